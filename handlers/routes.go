package handlers

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokenflow/static"
)

// New builds the Echo server with every route. main and the tests (browser
// tests included) use this same constructor.
func New(d Deps) (*echo.Echo, error) {
	if d.Store == nil || d.Tokens == nil || d.Passwords == nil {
		return nil, errors.New("handlers: Store, Tokens and Passwords are required")
	}
	h := &handler{
		store:     d.Store,
		tokens:    d.Tokens,
		passwords: d.Passwords,
		settings:  d.Settings,
		log:       d.Logger,
		now:       d.Now,
		throttle:  newThrottle(d.Settings),
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.now == nil {
		h.now = time.Now
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = h.handleError
	e.IPExtractor = ipExtractor(d.Settings.TrustedProxies)

	e.Use(middleware.RequestID())
	e.Use(h.requestLog)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, DisablePrintStack: true}))
	e.Use(h.securityHeaders)
	e.Use(middleware.BodyLimit("64K"))
	e.Use(h.crossOriginProtection())

	// Anyone.
	e.GET("/", h.landing)
	e.GET("/healthz", h.health)
	e.GET("/how-it-works", h.howItWorks)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static.FS))))

	// Login, registration, refresh and logout. Unsafe methods only change
	// state: a GET to /auth/refresh or /auth/logout is 405 and does nothing.
	e.GET("/auth/login", h.loginForm)
	e.POST("/auth/login", h.login)
	e.GET("/auth/register", h.registerForm)
	e.POST("/auth/register", h.register)
	e.POST("/auth/refresh", h.refresh)
	e.POST("/auth/logout", h.logout)

	// Pages behind the guard: no token goes to login, a failing token to
	// the refresh interstitial. (Middleware per route, not e.Group("", …):
	// a group would also wrap every unknown path, turning 404s into logins.)
	page := h.guard(h.pageAuthError)
	e.GET("/dashboard", h.dashboard, page)
	e.GET("/sessions", h.sessions, page)
	e.POST("/sessions/:id/revoke", h.revokeSession, page)

	// Development only: in production the route does not exist (404).
	if !d.Settings.Production {
		e.POST("/dev/expire-access", h.expireAccess, page)
	}

	// JSON behind the guard: 401 with an RFC 6750 challenge.
	api := h.guard(h.apiAuthError)
	e.GET("/api/me", h.me, api)

	return e, nil
}
