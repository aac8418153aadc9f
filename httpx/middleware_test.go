package httpx

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestValidRequestID(t *testing.T) {
	for _, id := range []string{"a", "0f8fad5b-d9cb-469f-a165-70867728950e", "req_1.2-3", strings.Repeat("x", 64)} {
		if !ValidRequestID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", "<script>", "a b", "ok\x00", "ünïcode", "a/b", `a"b`, strings.Repeat("x", 65)} {
		if ValidRequestID(id) {
			t.Errorf("%.20q accepted", id)
		}
	}
}

func TestRequestIDKeepsOnlyPlausibleIDs(t *testing.T) {
	e := echo.New()
	e.Use(RequestID)
	e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	get := func(id string) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if id != "" {
			r.Header.Set(echo.HeaderXRequestID, id)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w.Header().Get(echo.HeaderXRequestID)
	}
	if got := get("proxy-id.1"); got != "proxy-id.1" {
		t.Errorf("a proxy's id came back as %q", got)
	}
	for _, id := range []string{"<b>x</b>", strings.Repeat("y", 32<<10)} {
		if got := get(id); got == id || !ValidRequestID(got) {
			t.Errorf("id %.20q: response id %.40q", id, got)
		}
	}
	if a, b := get(""), get(""); a == b || len(a) < 20 {
		t.Errorf("new ids %q and %q", a, b)
	}
}

// The log line names the path without its query and never a header.
func TestRequestLogKeepsSecretsOut(t *testing.T) {
	var logs bytes.Buffer
	e := echo.New()
	e.Use(RequestLog(slog.New(slog.NewTextHandler(&logs, nil))))
	e.GET("/p", func(c echo.Context) error { return echo.ErrTeapot })
	r := httptest.NewRequest(http.MethodGet, "/p?token=secret-in-query", nil)
	r.Header.Set("Authorization", "Bearer secret-in-header")
	r.AddCookie(&http.Cookie{Name: "tf_access_token", Value: "secret-in-cookie"})
	e.ServeHTTP(httptest.NewRecorder(), r)
	if strings.Contains(logs.String(), "secret") {
		t.Errorf("a secret reached the log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "status=418") || !strings.Contains(logs.String(), "path=/p ") {
		t.Errorf("log line: %s", logs.String())
	}
}

func TestHeadAsGet(t *testing.T) {
	e := echo.New()
	e.Pre(HeadAsGet)
	e.Use(RestoreHead)
	var seen string
	e.GET("/", func(c echo.Context) error { seen = c.Request().Method; return c.String(http.StatusOK, "body") })
	e.POST("/post-only", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	do := func(path string) int {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodHead, path, nil))
		return w.Code
	}
	if code := do("/"); code != http.StatusOK || seen != http.MethodHead {
		t.Errorf("HEAD /: %d, handler saw %s; want 200 and HEAD", code, seen)
	}
	if code := do("/post-only"); code != http.StatusMethodNotAllowed {
		t.Errorf("HEAD on a POST-only route: %d, want 405", code)
	}
}

func TestClientIP(t *testing.T) {
	proxy := TrustedProxies{netip.MustParsePrefix("10.0.0.0/24")}
	req := func(peer, xff, proto string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set(echo.HeaderXForwardedFor, xff)
		}
		if proto != "" {
			r.Header.Set(echo.HeaderXForwardedProto, proto)
		}
		return r
	}
	cases := []struct {
		name    string
		proxies TrustedProxies
		r       *http.Request
		ip      string
		https   bool
	}{
		{"no proxies: the peer, whatever X-Forwarded-For says", nil, req("198.51.100.7:1", "203.0.113.9", "https"), "198.51.100.7", false},
		{"loopback is no proxy by default", nil, req("127.0.0.1:1", "203.0.113.9", "https"), "127.0.0.1", false},
		{"a trusted proxy is believed", proxy, req("10.0.0.5:1", "203.0.113.9", "https"), "203.0.113.9", true},
		{"an untrusted peer is not", proxy, req("198.51.100.7:1", "203.0.113.9", "https"), "198.51.100.7", false},
		{"a client-prepended address is skipped", proxy, req("10.0.0.5:1", "1.2.3.4, 203.0.113.9", ""), "203.0.113.9", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if ip := tc.proxies.IPExtractor()(tc.r); ip != tc.ip {
				t.Errorf("ip %q, want %q", ip, tc.ip)
			}
			c := echo.New().NewContext(tc.r, httptest.NewRecorder())
			if got := tc.proxies.IsHTTPS(c); got != tc.https {
				t.Errorf("IsHTTPS %v, want %v", got, tc.https)
			}
		})
	}
	tlsReq := req("198.51.100.7:1", "", "")
	tlsReq.TLS = &tls.ConnectionState{}
	if !TrustedProxies(nil).IsHTTPS(echo.New().NewContext(tlsReq, httptest.NewRecorder())) {
		t.Error("a TLS connection is not HTTPS")
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := echo.New()
	e.Use(SecurityHeaders(nil))
	e.GET("/page", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.GET("/file", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, PublicCache)
	get := func(path string, edit func(*http.Request)) http.Header {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		edit(r)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w.Header()
	}
	h := get("/page", func(r *http.Request) { r.Header.Set(echo.HeaderXForwardedProto, "https") })
	if h.Get("Content-Security-Policy") != ContentSecurityPolicy || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers: %v", h)
	}
	if h.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS for a spoofed X-Forwarded-Proto")
	}
	if cc := get("/file", func(*http.Request) {}).Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("a PublicCache route: Cache-Control %q", cc)
	}
	// A path that only looks static is no-store: caching is the route's choice.
	if cc := get("/static/../page", func(*http.Request) {}).Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}

func TestCrossOriginProtection(t *testing.T) {
	e := echo.New()
	e.Use(CrossOriginProtection())
	e.POST("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	post := func(edit func(*http.Request)) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		edit(r)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	if w := post(func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }); w.Code != http.StatusForbidden || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("cross-site form post: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if w := post(func(r *http.Request) {
		r.Header.Set("Origin", "https://evil.example")
		r.Header.Set("Accept", "application/json")
	}); w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("cross-origin fetch: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if w := post(func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-origin") }); w.Code != http.StatusOK {
		t.Errorf("same-origin post: %d", w.Code)
	}
}
