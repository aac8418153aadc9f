package handlers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokenflow/auth"
	"tokenflow/httpx"
	"tokenflow/static"
	"tokenflow/throttle"
)

// New builds the Echo server with every route. main and the tests (browser
// tests included) use this same constructor.
func New(d Deps) (*echo.Echo, error) {
	if d.Store == nil || d.Tokens == nil || d.Passwords == nil {
		return nil, errors.New("handlers: Store, Tokens and Passwords are required")
	}
	if s := d.Settings; s.LoginFailureLimit <= 0 || s.IPFailureLimit <= 0 || s.RegisterRateLimit <= 0 || s.RefreshRateLimit <= 0 {
		// No second set of defaults here: config has the one.
		return nil, fmt.Errorf("handlers: LoginFailureLimit (%d), IPFailureLimit (%d), RegisterRateLimit (%d) and RefreshRateLimit (%d) must be positive",
			s.LoginFailureLimit, s.IPFailureLimit, s.RegisterRateLimit, s.RefreshRateLimit)
	}
	if s := d.Settings; s.LoginRateLimit <= 0 || s.MaxSessionsPerUser <= 0 {
		return nil, fmt.Errorf("handlers: LoginRateLimit (%d) and MaxSessionsPerUser (%d) must be positive",
			s.LoginRateLimit, s.MaxSessionsPerUser)
	}
	h := &handler{
		store:     d.Store,
		tokens:    d.Tokens,
		expired:   d.ExpiredTokens,
		passwords: d.Passwords,
		settings:  d.Settings,
		log:       d.Logger,
		now:       d.Now,
		hashWait:  d.hashWait,
		readiness: d.Readiness,

		cookieNames: authCookieNamesFor(d.Settings.Production),
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.hashWait <= 0 {
		h.hashWait = auth.MaxHashWait
	}
	h.auth = auth.NewService(auth.Deps{
		Store:     d.Store,
		Issuer:    d.Tokens,
		Passwords: d.Passwords,
		Throttle: throttle.New(throttle.NewMemory(throttle.Limits{
			LoginFailures:   d.Settings.LoginFailureLimit,
			AddressFailures: d.Settings.IPFailureLimit,
			Logins:          d.Settings.LoginRateLimit,
			Registrations:   d.Settings.RegisterRateLimit,
			// An attempt resolves within the hashing wait, which bounds
			// both its wait for room and its hash.
			AttemptTimeout: auth.MaxHashWait,
		}, h.log)),
		Config: auth.Config{
			RefreshTokenTTL:    d.Settings.RefreshTokenTTL,
			SessionMaxAge:      d.Settings.SessionMaxAge,
			RefreshReuseGrace:  d.Settings.RefreshReuseGrace,
			RefreshRateLimit:   d.Settings.RefreshRateLimit,
			MaxSessionsPerUser: d.Settings.MaxSessionsPerUser,
			HashWait:           h.hashWait,
		},
		Now:      h.now,
		Observer: d.Observer,
	})

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = h.handleError
	proxies := httpx.TrustedProxies(d.Settings.TrustedProxies)
	e.IPExtractor = proxies.IPExtractor()

	// HEAD is routed as GET (Echo would answer 405), then is HEAD again for
	// the handlers, so net/http still sends no body.
	e.Pre(httpx.HeadAsGet)
	e.Use(httpx.RestoreHead) // first: before anything reads the method
	e.Use(httpx.RequestID)
	e.Use(httpx.RequestLog(h.log))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, DisablePrintStack: true}))
	// Every answer is no-store (pages depend on who is asking: 401s, the
	// interstitial, refresh and logout answers included); only the static
	// route below is cacheable, and handleError repeats no-store for its
	// errors.
	e.Use(httpx.SecurityHeaders(proxies))
	e.Use(middleware.BodyLimit("64K"))
	e.Use(httpx.CrossOriginProtection())

	// Anyone.
	e.GET("/", h.landing)
	e.GET("/healthz", h.health)
	e.GET("/readyz", h.ready)
	e.GET("/how-it-works", h.howItWorks)
	e.GET("/static/*", staticFiles(static.FS), httpx.PublicCache)

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
	// Every route that changes state, and the sessions page that leads to
	// it, is a livePage: the token's session must also still be live
	// (requireLiveSession). The dashboard stays a stateless read.
	page := h.guard(h.pageAuthError)
	livePage := []echo.MiddlewareFunc{page, h.requireLiveSession}
	e.GET("/dashboard", h.dashboard, page)
	e.GET("/sessions", h.sessions, livePage...)
	e.POST("/sessions/:id/revoke", h.revokeSession, livePage...)

	// Development only: in production the route does not exist (404).
	if !d.Settings.Production {
		e.POST("/dev/expire-access", h.expireAccess, livePage...)
	}

	// JSON behind the guard: 401 with an RFC 6750 challenge.
	api := h.guard(h.apiAuthError)
	e.GET("/api/me", h.me, api)
	e.GET("/api/session", h.sessionJSON, api)

	return e, nil
}

// staticFiles serves the embedded assets under /static/. Files only: a
// directory (/static/, /static/.) is 404, never a listing, and so is a
// missing file, through the app's own error page.
func staticFiles(fsys fs.FS) echo.HandlerFunc {
	files := http.StripPrefix("/static/", http.FileServerFS(fsys))
	return func(c echo.Context) error {
		// The name http.FileServerFS opens for this request.
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(c.Request().URL.Path, "/static/")), "/")
		if name == "" {
			name = "."
		}
		if info, err := fs.Stat(fsys, name); err != nil || info.IsDir() {
			return echo.ErrNotFound
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
