// Package gateway is the API gateway of the distributed form: one origin
// for the browser. /api/notes and /api/notes/* need a verified access token
// and go to the notes service with the caller's identity in X-User-ID,
// X-Session-ID and X-Username; every other path goes to the auth server
// untouched. It verifies with public keys from the auth server's JWKS only:
// it never holds a private key and never sees the store.
package gateway

import (
	"context"
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
	"tokenflow/tokens"
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
	// The TCP peer is the client: rewrite sets X-Real-IP (and appends to
	// X-Forwarded-For) from it, never from a header the client sent.
	e.IPExtractor = echo.ExtractIPDirect()
	// Likewise the scheme is the connection's: Echo would otherwise believe
	// a client's X-Forwarded-Proto from any private address, and rewrite
	// would pass it on to an auth server that trusts the gateway's word.
	e.SchemeExtractor = echo.ExtractSchemeDirect()
	e.Pre(StripIdentityHeaders)
	e.Use(httpx.RequestID, httpx.RequestLog(cfg.Logger), middleware.Recover(), RefuseUpgrades)

	toNotes := proxyTo(cfg.NotesURL, cfg.Transport, withIdentity)
	toAuth := proxyTo(cfg.AuthURL, cfg.Transport, withoutIdentity)
	// Routes, grouped by what guards them. The proxy middleware answers;
	// the handler after it is never reached.
	accepted := countAccepted(cfg.Observer)
	e.Any(NotesPrefix, unreachable, guard, accepted, toNotes)
	e.Any(NotesPrefix+"/*", unreachable, guard, accepted, toNotes)
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

// Whether an upstream gets the caller's identity from the verified claims.
const (
	withIdentity    = true
	withoutIdentity = false
)

// proxyTo forwards to target with one httputil.ReverseProxy, built once,
// whose copy buffers come from a pool. Echo's proxy middleware did the
// same forwarding but built a ReverseProxy for every request and gave it a
// fresh 32 KB copy buffer each time (docs/PERFORMANCE.md, Gateway).
//
// What the gateway says about the request (forwarding) is decided here,
// from the Echo context, and written onto the outbound request by
// rewrite, which ReverseProxy calls after removing the hop-by-hop headers:
// a client naming X-Real-IP, X-Forwarded-Proto, the request id or an
// identity header in Connection cannot have the gateway's own values
// removed on the way out. Upgrades never get here (RefuseUpgrades).
func proxyTo(target *url.URL, transport http.RoundTripper, identity bool) echo.MiddlewareFunc {
	proxy := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { rewrite(pr, target) },
		Transport:  transport,
		BufferPool: copyBuffers,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			// The upstream is down or refused the connection: say so
			// without its address or the error text (nothing was
			// written yet).
			w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			w.WriteHeader(http.StatusBadGateway)
			w.Write(badGatewayBody)
		},
	}
	return func(echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			fw := &forwarding{
				realIP:    c.RealIP(),
				scheme:    c.Scheme(),
				requestID: c.Response().Header().Get(echo.HeaderXRequestID),
			}
			if identity {
				if fw.identity = httpx.ClaimsFrom(c); fw.identity == nil {
					return echo.ErrUnauthorized // the guard runs first; never here
				}
			}
			req := c.Request()
			proxy.ServeHTTP(c.Response(), req.WithContext(context.WithValue(req.Context(), forwardingKey{}, fw)))
			return nil
		}
	}
}

// forwarding is what the gateway tells the server behind about one
// request: the client's address and scheme as the gateway sees them
// (Echo's IPExtractor and SchemeExtractor: the TCP peer and the
// connection's own scheme, never a client's header), the request id it
// answers with (the client's when plausible, else a new one, which the
// server behind keeps: one id in all three logs), and on the notes paths
// the verified claims.
type forwarding struct {
	realIP, scheme, requestID string
	identity                  *tokens.Claims
}

type forwardingKey struct{}

// rewrite builds the outbound request. ReverseProxy has already removed
// the hop-by-hop headers, those named in Connection included, and the
// client's Forwarded, X-Forwarded-For, X-Forwarded-Host and
// X-Forwarded-Proto. The path and query go as sent (SetURL only prefixes
// the target's path; the query is the client's own, unparsed), and so does
// Host. X-Forwarded-For is the client's chain with the peer appended, as
// before: the server behind believes as much of it as its own trusted
// proxies say, reading from the right. The client's other scheme headers
// are removed, so a client names no scheme. Inbound identity headers were
// stripped by StripIdentityHeaders; the notes service gets the gateway's.
func rewrite(pr *httputil.ProxyRequest, target *url.URL) {
	fw := pr.In.Context().Value(forwardingKey{}).(*forwarding)
	query := pr.In.URL.RawQuery
	pr.SetURL(target)
	pr.Out.URL.RawQuery = query // ReverseProxy drops parameters it cannot parse; the servers behind decide
	pr.Out.Host = pr.In.Host
	h := pr.Out.Header
	if prior := pr.In.Header.Values(echo.HeaderXForwardedFor); len(prior) > 0 {
		h.Set(echo.HeaderXForwardedFor, strings.Join(prior, ", ")+", "+fw.realIP)
	} else {
		h.Set(echo.HeaderXForwardedFor, fw.realIP)
	}
	h.Set(echo.HeaderXRealIP, fw.realIP)
	h.Set(echo.HeaderXForwardedProto, fw.scheme)
	h.Del(echo.HeaderXForwardedSsl)
	h.Del(echo.HeaderXForwardedProtocol)
	h.Del(echo.HeaderXUrlScheme)
	h.Set(echo.HeaderXRequestID, fw.requestID)
	if claims := fw.identity; claims != nil {
		h.Set(HeaderUserID, claims.Subject)
		h.Set(HeaderSessionID, claims.SessionID)
		if headerSafe(claims.Username) {
			h.Set(HeaderUsername, claims.Username)
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

// RefuseUpgrades answers 400 to any request asking to switch protocols.
// Neither server behind the gateway speaks WebSocket or h2c, and
// httputil.ReverseProxy (like Echo's proxy before it) answers an Upgrade:
// websocket request by hijacking the connection and piping raw bytes to
// the server behind: the first request would keep the client's own
// X-Forwarded-For (believed by an auth server that trusts
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
