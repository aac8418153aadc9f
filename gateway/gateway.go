// Package gateway is the API gateway of the distributed form: one origin
// for the browser. /api/notes and /api/notes/* need a verified access token
// and go to the notes service with the caller's identity in X-User-ID,
// X-Session-ID and X-Username; every other path goes to the auth server
// untouched. It verifies with public keys from the auth server's JWKS only:
// it never holds a private key and never sees the store.
package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokenflow/httpx"
)

// The identity headers the gateway sets for the notes service, from the
// verified claims only.
const (
	HeaderUserID    = "X-User-ID"
	HeaderSessionID = "X-Session-ID"
	HeaderUsername  = "X-Username"
)

// NotesPrefix is the path the notes service answers under.
const NotesPrefix = "/api/notes"

// Config configures the gateway.
type Config struct {
	// AuthURL is the auth server: every path but the notes ones. Required.
	AuthURL *url.URL
	// NotesURL is the notes service. Required.
	NotesURL *url.URL
	// Verifier checks access tokens (an httpx.JWKSVerifier). Required.
	Verifier httpx.Verifier
	// AccessCookie is the access cookie's name, read when there is no
	// Authorization header (with the cookie-tossing rule). Required.
	AccessCookie string
	// Transport carries proxied requests. Optional. Default value
	// http.DefaultTransport with up to 256 idle connections per upstream
	// (upstreamTransport).
	Transport http.RoundTripper
	// Logger receives one line per request. Optional. Default: discard.
	Logger *slog.Logger
	// Observer hears the result of every token check on the notes paths.
	// Optional. Default: none.
	Observer Observer
}

// New returns the gateway's handler.
func New(cfg Config) (*echo.Echo, error) {
	switch {
	case cfg.AuthURL == nil || cfg.NotesURL == nil:
		return nil, errors.New("gateway: AuthURL and NotesURL are required")
	case cfg.Verifier == nil:
		return nil, errors.New("gateway: Verifier is required")
	case cfg.AccessCookie == "":
		return nil, errors.New("gateway: AccessCookie is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Transport == nil {
		cfg.Transport = upstreamTransport()
	}
	if cfg.Observer == nil {
		cfg.Observer = discardResults{}
	}
	guard, err := httpx.GuardConfig{
		Verifier:     cfg.Verifier,
		CookieName:   cfg.AccessCookie,
		ErrorHandler: countRefusal(cfg.Observer, httpx.BearerChallenge),
	}.ToMiddleware()
	if err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The TCP peer is the client: echo's proxy then overwrites any
	// X-Real-IP the client sent instead of passing it on.
	e.IPExtractor = echo.ExtractIPDirect()
	// Likewise the scheme is the connection's: Echo would otherwise believe
	// a client's X-Forwarded-Proto from any private address, and the proxy
	// would pass it on to an auth server that trusts the gateway's word.
	e.SchemeExtractor = echo.ExtractSchemeDirect()
	e.Pre(StripIdentityHeaders)
	e.Use(httpx.RequestID, forwardRequestID, httpx.RequestLog(cfg.Logger), middleware.Recover(), RefuseUpgrades)

	toNotes := proxyTo(cfg.NotesURL, cfg.Transport)
	toAuth := proxyTo(cfg.AuthURL, cfg.Transport)
	// Routes, grouped by what guards them. The proxy middleware answers;
	// the handler after it is never reached.
	accepted := countAccepted(cfg.Observer)
	e.Any(NotesPrefix, unreachable, guard, accepted, setIdentity, toNotes)
	e.Any(NotesPrefix+"/*", unreachable, guard, accepted, setIdentity, toNotes)
	e.Any("/*", unreachable, toAuth)
	return e, nil
}

// upstreamTransport is http.DefaultTransport keeping enough idle
// connections: the default two per host would make every request past the
// second of a concurrent burst open and close its own TCP connection to
// the service (docs/PERFORMANCE.md).
func upstreamTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 256
	return t
}

// proxyTo forwards to target with one httputil.ReverseProxy, built once,
// whose copy buffers come from a pool. Echo's proxy middleware did the
// same forwarding but built a ReverseProxy for every request and gave it a
// fresh 32 KB copy buffer each time (docs/PERFORMANCE.md, Gateway). The
// headers are Echo's: X-Real-IP is the TCP peer (e.IPExtractor), and
// X-Forwarded-Proto the connection's own scheme, with the other scheme
// headers removed, so a client names neither; ReverseProxy itself appends
// the peer to X-Forwarded-For and drops hop-by-hop headers, those named in
// Connection included. Upgrades never get here (RefuseUpgrades).
func proxyTo(target *url.URL, transport http.RoundTripper) echo.MiddlewareFunc {
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	proxy.BufferPool = copyBuffers
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		// The upstream is down or refused the connection: say so without
		// its address or the error text (nothing was written yet).
		w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		w.WriteHeader(http.StatusBadGateway)
		w.Write(badGatewayBody)
	}
	return func(echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header
			h.Set(echo.HeaderXRealIP, c.RealIP())
			h.Set(echo.HeaderXForwardedProto, c.Scheme())
			h.Del(echo.HeaderXForwardedSsl)
			h.Del(echo.HeaderXForwardedProtocol)
			h.Del(echo.HeaderXUrlScheme)
			proxy.ServeHTTP(c.Response(), c.Request())
			return nil
		}
	}
}

// badGatewayBody is the 502 the gateway answers when the service behind it
// does not: the JSON c.JSON writes for it.
var badGatewayBody = func() []byte {
	b, err := json.Marshal(httpx.APIError{Error: "bad_gateway", Message: "The service behind the gateway did not answer."})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}()

// copyBuffers are the proxies' response-copy buffers (httputil.BufferPool).
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

func unreachable(c echo.Context) error { return echo.ErrNotFound }

// forwardRequestID sends the request id the gateway answers with (the
// client's when plausible, else a new one) to the server behind it, which
// keeps a plausible one: one id in all three logs.
func forwardRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Request().Header.Set(echo.HeaderXRequestID, c.Response().Header().Get(echo.HeaderXRequestID))
		return next(c)
	}
}

// RefuseUpgrades answers 400 to any request asking to switch protocols.
// Neither server behind the gateway speaks WebSocket or h2c, and Echo's
// proxy answers an Upgrade: websocket request by hijacking the connection
// and piping raw bytes to the server behind: the first request would keep
// the client's own X-Forwarded-For (believed by an auth server that trusts
// the gateway's address, so login limits would count whatever address the
// client names), and every later request on that connection would pass no
// check of the gateway's at all.
func RefuseUpgrades(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, asks := c.Request().Header[echo.HeaderUpgrade]; asks {
			return c.JSON(http.StatusBadRequest, httpx.APIError{Error: "upgrade_not_supported", Message: "The gateway does not switch protocols."})
		}
		return next(c)
	}
}

// StripIdentityHeaders removes every inbound header that names an
// identity header in any spelling: case (Go canonicalises x-user-id to
// X-User-Id, but keeps X_User_ID as sent) and "_" for "-", because some
// servers and frameworks behind a proxy (CGI-style environments, nginx
// with underscores_in_headers, Django, PHP) read X_User_ID as X-User-ID.
// It runs on every path, so no request leaves the gateway claiming an
// identity the gateway did not set.
func StripIdentityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		for name := range h {
			if isIdentityHeader(name) {
				delete(h, name)
			}
		}
		// A header named in Connection is hop-by-hop: the proxy drops it
		// on the way out, after setIdentity has written it. So a client
		// could remove the identity the gateway sets; the names leave the
		// Connection header instead.
		if values, ok := h["Connection"]; ok {
			var kept []string
			for _, value := range values {
				for _, token := range strings.Split(value, ",") {
					if token = strings.TrimSpace(token); token != "" && !isIdentityHeader(token) {
						kept = append(kept, token)
					}
				}
			}
			if len(kept) == 0 {
				delete(h, "Connection")
			} else {
				h["Connection"] = []string{strings.Join(kept, ", ")}
			}
		}
		return next(c)
	}
}

func isIdentityHeader(name string) bool {
	return sameHeaderName(name, "x-user-id") || sameHeaderName(name, "x-session-id") || sameHeaderName(name, "x-username")
}

// sameHeaderName: name is want (lower case, "-" between words) in any case,
// with "_" for any "-". It runs on every header of every request, so it
// compares in place instead of lowering and replacing into new strings.
func sameHeaderName(name, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// setIdentity writes the identity headers from the claims the guard
// verified.
func setIdentity(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims := httpx.ClaimsFrom(c)
		if claims == nil {
			return echo.ErrUnauthorized // the guard runs first; never here
		}
		h := c.Request().Header
		h.Set(HeaderUserID, claims.Subject)
		h.Set(HeaderSessionID, claims.SessionID)
		if headerSafe(claims.Username) {
			h.Set(HeaderUsername, claims.Username)
		}
		return next(c)
	}
}

// headerSafe: printable ASCII only, so a username never breaks (or splits)
// the forwarded request. The notes service does not need the username.
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return v != ""
}
