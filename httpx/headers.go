package httpx

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// ContentSecurityPolicy forbids inline script and framing: every page script
// is a file under /static.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// SecurityHeaders sets the headers every response carries. HSTS only on a
// real TLS connection (or one a trusted proxy vouches for), never because of
// a header any client can send. Every response is Cache-Control: no-store,
// since what a server answers depends on who is asking (401s and refresh
// answers included); a route whose answers may be cached says so itself,
// with PublicCache.
func SecurityHeaders(proxies TrustedProxies) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			hd := c.Response().Header()
			hd.Set("Content-Security-Policy", ContentSecurityPolicy)
			hd.Set("X-Content-Type-Options", "nosniff")
			hd.Set("X-Frame-Options", "DENY")
			hd.Set("Referrer-Policy", "same-origin")
			hd.Set("Cross-Origin-Opener-Policy", "same-origin")
			hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if proxies.IsHTTPS(c) {
				hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			NoStore(c)
			return next(c)
		}
	}
}

// NoStore marks a response as never to be cached: anything that carries or
// depends on credentials.
func NoStore(c echo.Context) {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
}

// PublicCache lets shared caches keep a route's answers for five minutes:
// for files that are the same for everyone. An error answer on such a route
// must set NoStore again.
func PublicCache(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
		return next(c)
	}
}

// CrossOriginProtection rejects cross-site and cross-origin unsafe requests
// (net/http's CrossOriginProtection: Sec-Fetch-Site, then Origin vs Host)
// with 403 before any handler runs. SameSite cookies are the second layer.
func CrossOriginProtection() echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"forbidden","message":"Cross-origin request refused."}`))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("Cross-origin request refused: submit the form from this site.\n"))
	}))
	return echo.WrapMiddleware(cop.Handler)
}
