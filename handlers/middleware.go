package handlers

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy forbids inline script and framing: every page script
// is a file under /static.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. HSTS only on a
// real TLS connection (or one a trusted proxy vouches for), never because of
// a header any client can send.
func (h *handler) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if h.isHTTPS(c) {
			hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			// Pages depend on who is asking; never cache them. This is the
			// one place no-store is set for them (401s, the interstitial,
			// refresh and logout answers included); handleError repeats it
			// only for errors under /static/.
			noStore(c)
		} else {
			hd.Set(echo.HeaderCacheControl, "public, max-age=300")
		}
		return next(c)
	}
}

// crossOriginProtection rejects cross-site and cross-origin unsafe requests
// (net/http's CrossOriginProtection: Sec-Fetch-Site, then Origin vs Host)
// with 403 before any handler runs. SameSite cookies are the second layer.
func (h *handler) crossOriginProtection() echo.MiddlewareFunc {
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

// requestLog logs one line per request: method, path (no query), status,
// duration, client address and request id. Never headers, cookies or bodies,
// so no token or password can reach the log.
func (h *handler) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		h.log.Info("request",
			"method", c.Request().Method,
			"path", c.Request().URL.Path,
			"status", c.Response().Status,
			"duration_ms", time.Since(start).Milliseconds(),
			"ip", c.RealIP(),
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
		)
		return nil
	}
}

// headKey marks, in the Echo context, a HEAD request routed as GET.
const headKey = "tokenflow.head"

// headAsGet routes HEAD like GET: Echo does not (it answers 405), and load
// balancers and uptime checks probe / and /healthz with HEAD. It only
// changes the method the router sees; restoreHead, the first middleware
// after routing, changes it back. The method must be HEAD while the
// response is written: net/http drops the body of a HEAD response by
// looking at that same request, so a HEAD answered as GET would send one.
// A POST-only route stays 405 for HEAD, as it is for GET.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r := c.Request(); r.Method == http.MethodHead {
			// In place: Echo routes on the request it was given.
			r.Method = http.MethodGet
			c.Set(headKey, true)
		}
		return next(c)
	}
}

// restoreHead gives a HEAD request routed by headAsGet its method back.
func restoreHead(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if head, _ := c.Get(headKey).(bool); head {
			c.Request().Method = http.MethodHead
		}
		return next(c)
	}
}

// maxRequestIDLength bounds an X-Request-Id taken from the request.
const maxRequestIDLength = 64

// requestID sets X-Request-Id on the response: the request's own when it is
// a plausible id (a proxy in front may have set it, and one id across both
// logs helps), a new random one otherwise. The id reaches logs and error
// pages, so an incoming one must match ^[A-Za-z0-9._-]{1,64}$: no markup,
// no control characters, no 32 KiB headers.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = rand.Text() // 26 characters, 130 random bits
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// validRequestID reports whether id matches ^[A-Za-z0-9._-]{1,64}$.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}
