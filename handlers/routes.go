package handlers

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokenflow/httpx"
	"tokenflow/static"
)

// New builds the Echo server with every route. main and the tests (browser
// tests included) use this same constructor.
func New(d Deps) (*echo.Echo, error) {
	if d.Auth == nil || d.Store == nil || d.Tokens == nil {
		return nil, errors.New("handlers: Auth, Store and Tokens are required")
	}
	h := &handler{
		auth:      d.Auth,
		store:     d.Store,
		tokens:    d.Tokens,
		expired:   d.ExpiredTokens,
		keys:      d.Keys,
		settings:  d.Settings,
		log:       d.Logger,
		now:       d.Now,
		readiness: d.Readiness,

		cookieNames: authCookieNamesFor(d.Settings.Production),

		labTokens:   d.LabTokens,
		labVerifier: d.LabVerifier,

		inspections: newInspections(),
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
	// route and the JWKS below are cacheable, and handleError repeats no-store for its
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
	e.GET(JWKSPath, h.jwks)
	e.GET("/.well-known/oauth-authorization-server", h.authorizationServerMetadata)

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

	// The token lab. The page and the minting of a lab token need a live
	// session; /lab/verify needs none (a lab token opens nothing else, and
	// the lab shows that it outlives a logout).
	if d.LabTokens != nil && d.LabVerifier != nil {
		e.GET("/lab", h.lab, livePage...)
		e.POST("/lab/token", h.mintLabToken, api, h.requireLiveSession)
		e.POST("/lab/verify", h.verifyLabToken)
	}

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
