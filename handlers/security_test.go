package handlers

// Adversarial tests through the real router (e.ServeHTTP via the harness):
// token forgery, CSRF, bad input, security headers, caching, and what 500s
// and logs give away. Brute-force throttling is in throttle_test.go; open
// redirects in next_test.go.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
)

// ---- token forgery ----

// Every way of forging a token is a row of the one forgery table, in tokens
// (TestVerify, TestAsymmetricAttacks). Here, one forged token goes down each
// delivery path (cookie, Bearer) to each kind of guarded route, to show the
// HTTP layer answers a refused token the way the contract says and never
// shows the victim's data.

var attackerSecret = []byte("attacker-attacker-attacker-secret")

func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hs256Token signs claims by hand, so the control and the forgery differ
// only in the key.
func hs256Token(t *testing.T, key []byte, claims map[string]any) string {
	t.Helper()
	signing := segment(t, map[string]any{"alg": "HS256", "typ": "JWT"}) + "." + segment(t, claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// deliveryPaths are the two ways a guarded route takes an access token.
var deliveryPaths = []struct {
	name string
	set  func(r *http.Request, token string)
}{
	{"cookie", func(r *http.Request, tok string) { r.Header.Set("Cookie", AccessCookie+"="+tok) }},
	{"Bearer", func(r *http.Request, tok string) { r.Header.Set("Authorization", "Bearer "+tok) }},
}

// askWith sends token down one delivery path to a GET of path, from a
// fresh browser (no other cookie).
func askWith(app *testApp, path string, deliver func(*http.Request, string), token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	deliver(r, token)
	r.RemoteAddr = "198.51.100.9:4000"
	w := httptest.NewRecorder()
	app.e.ServeHTTP(w, r)
	return w
}

func TestForgedTokenPerDeliveryPath(t *testing.T) {
	app := newTestApp(t)
	const victim = "victim"
	genuine := app.mustRegister(t, victim, "correct horse battery").cookie(AccessCookie)
	cl, err := app.tokens.Verify(genuine)
	if err != nil {
		t.Fatal(err)
	}
	now := app.clock.Now()
	claims := map[string]any{
		"iss": "tokenflow", "aud": "tokenflow", "sub": cl.Subject, "sid": cl.SessionID,
		"username": victim, "jti": "forged-jti",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	// The same claims signed with the real secret are accepted, so the
	// forgery's refusal below is the key's doing.
	handSigned := hs256Token(t, []byte(testSecret), claims)
	forged := hs256Token(t, attackerSecret, claims)
	oversize := strings.Repeat("a", 30<<10) + "." + strings.Repeat("b", 30<<10) + ".c"

	for _, path := range deliveryPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Run("ok, genuine and hand-signed tokens", func(t *testing.T) {
				for _, tok := range []string{genuine, handSigned} {
					if w := askWith(app, "/api/me", path.set, tok); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), victim) {
						t.Errorf("GET /api/me: %d %.200s", w.Code, w.Body.String())
					}
					if w := askWith(app, "/dashboard", path.set, tok); w.Code != http.StatusOK {
						t.Errorf("GET /dashboard: %d", w.Code)
					}
				}
			})
			t.Run("nok, forged: API answers 401 with the invalid_token challenge", func(t *testing.T) {
				w := askWith(app, "/api/me", path.set, forged)
				want := `Bearer realm="tokenflow", error="invalid_token", error_description="the access token is invalid"`
				if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != want {
					t.Errorf("status %d, challenge %q; want 401 and %q", w.Code, w.Header().Get("WWW-Authenticate"), want)
				}
				var body apiError
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "invalid_token" {
					t.Errorf("body %q (%v), want the invalid_token error", w.Body.String(), err)
				}
				if strings.Contains(w.Body.String(), victim) {
					t.Error("the body shows the victim's claims")
				}
			})
			t.Run("nok, forged: page answers with the refresh interstitial", func(t *testing.T) {
				w := askWith(app, "/dashboard", path.set, forged)
				if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `data-testid="interstitial"`) {
					t.Errorf("status %d, want the 401 interstitial; body %.200s", w.Code, w.Body.String())
				}
				if strings.Contains(w.Body.String(), victim) {
					t.Error("the page shows the victim's name")
				}
			})
			t.Run("nok, an oversize token is a 401, never a 5xx", func(t *testing.T) {
				if w := askWith(app, "/api/me", path.set, oversize); w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("GET /api/me: %d %q, want 401 with a challenge", w.Code, w.Header().Get("WWW-Authenticate"))
				}
				if w := askWith(app, "/dashboard", path.set, oversize); w.Code != http.StatusUnauthorized && w.Code != http.StatusSeeOther {
					t.Errorf("GET /dashboard: %d, want the interstitial or the login page", w.Code)
				}
			})
		})
	}
}

// ---- CSRF ----

// crossSiteKinds are the ways a forged cross-site form post arrives.
var crossSiteKinds = []struct {
	name string
	set  func(r *http.Request)
}{
	{"Sec-Fetch-Site cross-site", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }},
	{"Sec-Fetch-Site same-site", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }},
	{"Origin of another host", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }},
	{"Origin null", func(r *http.Request) { r.Header.Set("Origin", "null") }},
}

func crossPost(b *browser, path string, form url.Values, set func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Host = "example.com"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	set(r)
	return b.do(r)
}

func assertForbiddenNoCookies(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403; body %.200s", w.Code, w.Body.String())
	}
	if cs := w.Result().Cookies(); len(cs) > 0 {
		t.Errorf("a refused request set cookies: %v", cs)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", w.Header().Get("Cache-Control"))
	}
}

func TestCrossSitePostsRefused(t *testing.T) {
	app := newTestApp(t)
	const pw = "correct horse battery"
	app.mustRegister(t, "alice", pw)
	ctx := context.Background()

	for _, kind := range crossSiteKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Run("login", func(t *testing.T) {
				b := app.browser()
				w := crossPost(b, "/auth/login", url.Values{"username": {"alice"}, "password": {pw}}, kind.set)
				assertForbiddenNoCookies(t, w)
			})
			t.Run("register", func(t *testing.T) {
				b := app.browser()
				w := crossPost(b, "/auth/register", url.Values{"username": {"mallory"}, "password": {pw}, "password_confirm": {pw}}, kind.set)
				assertForbiddenNoCookies(t, w)
				if _, err := app.store.UserByUsername(ctx, "mallory"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the user was created: err %v", err)
				}
			})
			t.Run("logout", func(t *testing.T) {
				b := app.mustLogin(t, "alice", pw)
				w := crossPost(b, "/auth/logout", url.Values{"scope": {"global"}}, kind.set)
				assertForbiddenNoCookies(t, w)
				if s := app.sessionOf(t, b); s.Revoked() {
					t.Error("the session was revoked")
				}
				if w := b.fetchRefresh(); w.Code != http.StatusOK {
					t.Errorf("refresh after the refused logout: %d", w.Code)
				}
			})
			t.Run("refresh", func(t *testing.T) {
				b := app.mustLogin(t, "alice", pw)
				before := b.cookie(RefreshCookie)
				w := crossPost(b, "/auth/refresh", nil, kind.set)
				assertForbiddenNoCookies(t, w)
				if b.cookie(RefreshCookie) != before {
					t.Error("the refresh cookie changed")
				}
				// The refresh token was not rotated: it still works, once.
				if w := b.fetchRefresh(); w.Code != http.StatusOK {
					t.Errorf("refresh with the untouched token: %d", w.Code)
				}
			})
			t.Run("revoke a session", func(t *testing.T) {
				attacker := app.mustLogin(t, "alice", pw) // the victim's own browser, lured
				other := app.mustLogin(t, "alice", pw)
				target := app.sessionOf(t, other)
				w := crossPost(attacker, "/sessions/"+target.ID+"/revoke", nil, kind.set)
				assertForbiddenNoCookies(t, w)
				if s, _ := app.store.Session(ctx, target.ID); s.Revoked() {
					t.Error("the session was revoked")
				}
			})
		})
	}

	t.Run("ok, same-origin and non-browser posts pass", func(t *testing.T) {
		b := app.browser()
		r := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(url.Values{"username": {"alice"}, "password": {pw}}.Encode()))
		r.Host = "example.com"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "http://example.com")
		if w := b.do(r); w.Code != http.StatusSeeOther {
			t.Errorf("same-origin Origin: %d", w.Code)
		}
	})
	t.Run("JSON callers get a JSON 403", func(t *testing.T) {
		b := app.browser()
		r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := b.do(r)
		if w.Code != http.StatusForbidden || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("got %d %q", w.Code, w.Header().Get("Content-Type"))
		}
	})
}

// ---- bad input ----

func rawPost(b *browser, path, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(r)
}

func multipartBody(t *testing.T, fields map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestBadInputIsA4xxWithAMessage(t *testing.T) {
	app := newTestApp(t)
	app.mustRegister(t, "inputuser", "correct horse battery")
	loggedIn := func() *browser { return app.mustLogin(t, "inputuser", "correct horse battery") }
	const form = "application/x-www-form-urlencoded"
	long := strings.Repeat("a", 60<<10)
	huge := strings.Repeat("a", 70<<10)
	bodies := []struct {
		name, contentType, body string
	}{
		{"invalid UTF-8", form, "username=%FF%FEalice&password=%C3%28pw&password_confirm=%C3%28pw&scope=%FF&next=%FF"},
		{"NUL bytes", form, "username=ali%00ce&password=pass%00word1&password_confirm=pass%00word1&scope=lo%00cal&next=/a%00"},
		{"control characters", form, "username=ali%1Bce&password=pass%07word1&password_confirm=pass%07word1&scope=%0A"},
		{"very long fields", form, "username=" + long[:30<<10] + "&password=" + long[:29<<10] + "&scope=" + long[:1000]},
		{"very long single field", form, "scope=" + long + "&next=" + long},
		{"body over 64 KB", form, "username=" + huge},
		{"bad percent-encoding", form, "username=%zz&password=%"},
		{"JSON body", "application/json", `{"username":"inputuser","password":"correct horse battery"}`},
		{"XML body", "text/xml", `<login><username>inputuser</username></login>`},
		{"plain text", "text/plain", "username=inputuser&password=correct horse battery"},
		{"malformed Content-Type", "application/x-www-form-urlencoded; charset", "username=a"},
		{"Content-Type garbage", ";;;", "username=a"},
		{"no Content-Type with a body", "", "username=inputuser&password=correct horse battery"},
		{"multipart without boundary", "multipart/form-data", "--x\r\n"},
		{"multipart with a broken body", "multipart/form-data; boundary=zzz", "--zzz\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice"},
	}
	for _, path := range []string{"/auth/login", "/auth/register", "/auth/refresh", "/auth/logout"} {
		for _, tc := range bodies {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				w := rawPost(app.browser(), path, tc.contentType, []byte(tc.body))
				assertClientError(t, w)
				// Logged in, a field the endpoint ignores may be ignored
				// (refresh drops a bad next), but nothing is ever a 5xx.
				if w := rawPost(loggedIn(), path, tc.contentType, []byte(tc.body)); w.Code >= 500 {
					t.Errorf("logged in: status %d", w.Code)
				}
			})
		}
		t.Run(path+"/multipart with NUL", func(t *testing.T) {
			ct, body := multipartBody(t, map[string]string{"username": "a\x00b", "password": "p\x00assword1", "password_confirm": "p\x00assword1", "scope": "\x00"})
			assertClientError(t, rawPost(app.browser(), path, ct, body))
		})
	}
	t.Run("the limits are the documented ones", func(t *testing.T) {
		w := rawPost(app.browser(), "/auth/login", form, []byte("username="+huge))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("over 64 KB: %d, want 413", w.Code)
		}
		w = rawPost(app.browser(), "/auth/login", "application/json", []byte(`{}`))
		if w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("JSON: %d, want 415", w.Code)
		}
		w = rawPost(app.browser(), "/auth/register", form, []byte("username=a%00b&password=x&password_confirm=x"))
		if w.Code != http.StatusUnprocessableEntity {
			t.Errorf("register with NUL: %d, want 422", w.Code)
		}
	})
	t.Run("ok, a well-formed multipart login works", func(t *testing.T) {
		ct, body := multipartBody(t, map[string]string{"username": "inputuser", "password": "correct horse battery"})
		if w := rawPost(app.browser(), "/auth/login", ct, body); w.Code != http.StatusSeeOther {
			t.Errorf("multipart login: %d %s", w.Code, w.Body.String())
		}
	})
}

// assertClientError: a 4xx with some text for the user, never a 5xx.
func assertClientError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code < 400 || w.Code >= 500 {
		t.Errorf("status %d, want a 4xx; body %.300s", w.Code, w.Body.String())
	}
	if strings.TrimSpace(w.Body.String()) == "" {
		t.Error("empty body: the user gets no message")
	}
}

func TestMalformedAccessCookieIsAbsent(t *testing.T) {
	app := newTestApp(t)
	for _, v := range []string{
		"garbage", "a.b", "a..c", "..", "a.b.c.d", "a.b.c!", "a.b.c%00",
		strings.Repeat("a", 9<<10) + ".b.c", "a.b." + strings.Repeat("=", 10),
	} {
		t.Run(v[:min(len(v), 20)], func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
			r.Header.Set("Cookie", AccessCookie+"="+v)
			w := app.browser().do(r)
			if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login?next=") {
				t.Errorf("GET /dashboard: %d to %q, want 303 to the login page", w.Code, w.Header().Get("Location"))
			}
			r = httptest.NewRequest(http.MethodGet, "/api/me", nil)
			r.Header.Set("Cookie", AccessCookie+"="+v)
			w = app.browser().do(r)
			if got := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || got != `Bearer realm="tokenflow"` {
				t.Errorf("GET /api/me: %d %q, want 401 with the no-token challenge", w.Code, got)
			}
		})
	}
	t.Run("a token-shaped cookie that fails gets the interstitial", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		r.Header.Set("Cookie", AccessCookie+"=a.b.c")
		if w := app.browser().do(r); w.Code != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", w.Code)
		}
	})
}

// ---- headers and caching ----

func TestSecurityHeaders(t *testing.T) {
	app := newTestApp(t, func(d *testDeps) {
		d.Settings.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}
	})
	b := app.mustRegister(t, "headers", "correct horse battery")
	paths := []string{"/", "/auth/login", "/auth/register", "/dashboard", "/sessions", "/api/me", "/no-such-page", "/healthz"}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			w := b.get(p)
			h := w.Header()
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
			want := map[string]string{
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "same-origin",
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if x := h.Get("X-XSS-Protection"); x != "" && x != "0" {
				t.Errorf("X-XSS-Protection %q: the old filter is itself an attack surface", x)
			}
			if h.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS over plain HTTP")
			}
		})
	}

	hsts := func(set func(r *http.Request)) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		set(r)
		w := httptest.NewRecorder()
		app.e.ServeHTTP(w, r)
		return w.Header().Get("Strict-Transport-Security")
	}
	t.Run("HSTS over TLS", func(t *testing.T) {
		got := hsts(func(r *http.Request) { r.TLS = &tls.ConnectionState{} })
		if !strings.Contains(got, "max-age=") {
			t.Errorf("HSTS %q over TLS", got)
		}
	})
	t.Run("no HSTS for a spoofed X-Forwarded-Proto", func(t *testing.T) {
		got := hsts(func(r *http.Request) { r.RemoteAddr = "198.51.100.1:1"; r.Header.Set("X-Forwarded-Proto", "https") })
		if got != "" {
			t.Errorf("HSTS %q from an untrusted peer's header", got)
		}
	})
	t.Run("HSTS when the trusted proxy says https", func(t *testing.T) {
		got := hsts(func(r *http.Request) { r.RemoteAddr = "10.0.0.1:1"; r.Header.Set("X-Forwarded-Proto", "https") })
		if got == "" {
			t.Error("no HSTS behind the trusted TLS proxy")
		}
	})
}

func TestNoStoreOnCredentialResponses(t *testing.T) {
	app := newTestApp(t)
	const pw = "correct horse battery"
	app.mustRegister(t, "cacheuser", pw)
	b := app.mustLogin(t, "cacheuser", pw)

	check := func(t *testing.T, what string, w *httptest.ResponseRecorder, wantStatus int) {
		t.Helper()
		if w.Code != wantStatus {
			t.Errorf("%s: status %d, want %d", what, w.Code, wantStatus)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, got)
		}
	}
	check(t, "GET /dashboard", b.get("/dashboard"), http.StatusOK)
	check(t, "GET /sessions", b.get("/sessions"), http.StatusOK)
	check(t, "GET /api/me", b.get("/api/me"), http.StatusOK)
	check(t, "GET /auth/login", app.browser().get("/auth/login"), http.StatusOK)
	check(t, "POST /auth/refresh (fetch)", b.fetchRefresh(), http.StatusOK)
	check(t, "POST /auth/refresh (form)", b.post("/auth/refresh", url.Values{"next": {"/dashboard"}}), http.StatusSeeOther)
	check(t, "POST /auth/refresh without a cookie", app.browser().fetchRefresh(), http.StatusUnauthorized)
	check(t, "POST /auth/login ok", app.browser().post("/auth/login", url.Values{"username": {"cacheuser"}, "password": {pw}}), http.StatusSeeOther)
	check(t, "POST /auth/login failed", app.browser().post("/auth/login", url.Values{"username": {"cacheuser"}, "password": {"wrong password"}}), http.StatusUnauthorized)
	check(t, "GET /api/me without a token", app.browser().get("/api/me"), http.StatusUnauthorized)
	check(t, "GET /dashboard without a token", app.browser().get("/dashboard"), http.StatusSeeOther)
	app.clock.Advance(10 * time.Minute)
	check(t, "GET /dashboard expired (interstitial)", b.get("/dashboard"), http.StatusUnauthorized)
	check(t, "GET /api/me expired", b.get("/api/me"), http.StatusUnauthorized)
	check(t, "POST /auth/logout", b.post("/auth/logout", nil), http.StatusSeeOther)
}

// ---- errors and logs ----

// failingStore wraps the real store and fails the lookups a login makes with
// an error full of internals.
type failingStore struct {
	testStore
	panics bool
}

const internalDetail = "SECRET-INTERNAL: dial tcp 10.1.2.3:5432: password authentication failed for user tokenflow_admin"

func (s failingStore) UserByUsername(ctx context.Context, username string) (store.User, error) {
	if s.panics {
		panic(internalDetail)
	}
	return store.User{}, errors.New(internalDetail)
}

func TestInternalErrorsShowOnlyARequestID(t *testing.T) {
	for name, panics := range map[string]bool{"store error": false, "panic": true} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			app := newTestApp(t, func(d *testDeps) {
				d.Store = failingStore{testStore: d.Store, panics: panics}
				d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			for _, accept := range []string{"text/html", "application/json"} {
				t.Run(accept, func(t *testing.T) {
					r := httptest.NewRequest(http.MethodPost, "/auth/login",
						strings.NewReader(url.Values{"username": {"someone"}, "password": {"a password"}}.Encode()))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.Header.Set("Accept", accept)
					w := app.browser().do(r)
					if w.Code != http.StatusInternalServerError {
						t.Fatalf("status %d, want 500", w.Code)
					}
					body := w.Body.String()
					reqID := w.Header().Get("X-Request-Id")
					if reqID == "" || !strings.Contains(body, reqID) {
						t.Errorf("the body does not quote the request id %q: %.300s", reqID, body)
					}
					for _, secret := range []string{"SECRET-INTERNAL", "10.1.2.3", "tokenflow_admin", "goroutine", ".go:"} {
						if strings.Contains(body, secret) {
							t.Errorf("the body leaks %q", secret)
						}
					}
					if accept == "application/json" {
						var got apiError
						if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.RequestID != reqID {
							t.Errorf("JSON body %q: %v", body, err)
						}
					}
					if !strings.Contains(logs.String(), "SECRET-INTERNAL") || !strings.Contains(logs.String(), reqID) {
						t.Errorf("the log should keep the cause with the request id: %s", logs.String())
					}
				})
			}
		})
	}
}

func TestSecretsNeverReachTheLog(t *testing.T) {
	var logs bytes.Buffer
	app := newTestApp(t, func(d *testDeps) {
		d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const pw = "Tr0ub4dor&3-unique-password"
	var secrets []string
	collect := func(b *browser) {
		for _, name := range []string{AccessCookie, RefreshCookie} {
			if v := b.cookie(name); v != "" {
				secrets = append(secrets, v)
			}
		}
	}

	b := app.mustRegister(t, "logged", pw)
	collect(b)
	b = app.mustLogin(t, "logged", pw)
	collect(b)
	if w := b.get("/api/me"); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+b.cookie(AccessCookie))
	app.browser().do(r)
	if w := b.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	collect(b)
	oldRefresh := b.cookie(RefreshCookie)
	if w := b.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	collect(b)
	// Reuse after the grace window: the app logs a warning; not the token.
	app.clock.Advance(time.Minute)
	thief := app.browser()
	thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: oldRefresh, Path: "/auth"}
	thief.fetchRefresh()
	b = app.mustLogin(t, "logged", pw)
	collect(b)
	app.browser().post("/auth/login", url.Values{"username": {"logged"}, "password": {pw + "-wrong"}})
	app.browser().post("/auth/register", url.Values{"username": {"logged2"}, "password": {pw + "-2"}, "password_confirm": {pw + "-3"}})
	b.post("/auth/logout", url.Values{"scope": {"global"}})
	secrets = append(secrets, pw, pw+"-wrong", pw+"-2", pw+"-3")

	out := logs.String()
	if !strings.Contains(out, "/auth/login") {
		t.Fatalf("the log captured nothing: %q", out)
	}
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), base64.RawURLEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(out, form) {
				t.Errorf("the log contains a secret (%.12s…)", form)
			}
		}
		if strings.Count(s, ".") == 2 { // a JWT: its signature alone is the secret part
			if sig := s[strings.LastIndexByte(s, '.')+1:]; strings.Contains(out, sig) {
				t.Errorf("the log contains a token signature")
			}
		}
	}
}
