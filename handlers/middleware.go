package handlers

import (
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
			// Pages depend on who is asking; never cache them.
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
		w.Header().Set("Cache-Control", "no-store")
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
