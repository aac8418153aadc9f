package handlers

// Adversarial tests through the real router (e.ServeHTTP via the harness):
// token forgery, CSRF, bad input, security headers, caching, and what 500s
// and logs give away. Brute-force throttling is in throttle_test.go; open
// redirects in next_test.go.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/store"
)

// ---- token forgery ----

// attackerKeys are generated once: RSA key generation is slow under -race.
var attackerKeys = sync.OnceValues(func() (struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}, error) {
	var k struct {
		rsa *rsa.PrivateKey
		ec  *ecdsa.PrivateKey
	}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return k, err
	}
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k, err
})

var attackerSecret = []byte("attacker-attacker-attacker-secret")

func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hmacToken signs header and claims by hand, so a test can use keys and
// algorithms golang-jwt would refuse to sign with (an empty key, say).
func hmacToken(t *testing.T, alg string, key []byte, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	signing := segment(t, h) + "." + segment(t, claims)
	var mac hash.Hash
	switch alg {
	case "HS384":
		mac = hmac.New(sha512.New384, key)
	case "HS512":
		mac = hmac.New(sha512.New, key)
	default:
		mac = hmac.New(sha256.New, key)
	}
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func signatureOf(tok string) string { return tok[strings.LastIndexByte(tok, '.')+1:] }

// unsigned builds header.payload. with the given alg and an empty signature.
func unsigned(t *testing.T, alg string, claims map[string]any) string {
	return segment(t, map[string]any{"alg": alg, "typ": "JWT"}) + "." + segment(t, claims) + "."
}

func asymToken(t *testing.T, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forgeryFixture is a logged-in user and the claims of a genuine token, the
// raw material every forgery starts from.
type forgeryFixture struct {
	app      *testApp
	genuine  string         // an access token the app issued
	refresh  string         // a refresh token the app issued
	claims   map[string]any // valid claims for this app at its clock
	username string
}

func newForgeryFixture(t *testing.T) *forgeryFixture {
	t.Helper()
	app := newTestApp(t)
	b := app.mustRegister(t, "victim", "correct horse battery")
	tok := b.cookie(AccessCookie)
	cl, err := app.tokens.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	now := app.clock.Now()
	return &forgeryFixture{
		app: app, genuine: tok, refresh: b.cookie(RefreshCookie), username: "victim",
		claims: map[string]any{
			"iss": "tokenflow", "aud": "tokenflow", "sub": cl.Subject, "sid": cl.SessionID,
			"username": "victim", "jti": "forged-jti",
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		},
	}
}

// with returns a copy of the valid claims changed by edit.
func (f *forgeryFixture) with(edit func(map[string]any)) map[string]any {
	c := make(map[string]any, len(f.claims))
	for k, v := range f.claims {
		c[k] = v
	}
	edit(c)
	return c
}

// askMe sends the token as a Bearer header to GET /api/me.
func (f *forgeryFixture) askMe(tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.RemoteAddr = "198.51.100.9:4000"
	w := httptest.NewRecorder()
	f.app.e.ServeHTTP(w, r)
	return w
}

// askDashboard sends the token as the access cookie to GET /dashboard.
func (f *forgeryFixture) askDashboard(tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	r.Header.Set("Cookie", AccessCookie+"="+tok)
	r.RemoteAddr = "198.51.100.9:4000"
	w := httptest.NewRecorder()
	f.app.e.ServeHTTP(w, r)
	return w
}

// assertRejected: /api/me answers 401 with a challenge; /dashboard sends the
// browser to login (token treated as absent) or to the refresh interstitial
// (401). Neither ever shows the victim's data or fails with a 5xx.
func (f *forgeryFixture) assertRejected(t *testing.T, tok string) {
	t.Helper()
	w := f.askMe(tok)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/me: status %d, want 401; body %.200s", w.Code, w.Body.String())
	}
	if w.Header().Get("WWW-Authenticate") == "" {
		t.Error("GET /api/me: 401 without WWW-Authenticate")
	}
	if strings.Contains(w.Body.String(), f.username) {
		t.Error("GET /api/me: the body shows the victim's claims")
	}
	w = f.askDashboard(tok)
	switch w.Code {
	case http.StatusUnauthorized:
	case http.StatusSeeOther:
		if !strings.HasPrefix(w.Header().Get("Location"), "/auth/login") {
			t.Errorf("GET /dashboard: 303 to %q, want the login page", w.Header().Get("Location"))
		}
	default:
		t.Errorf("GET /dashboard: status %d, want 401 or 303; body %.200s", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), f.username) {
		t.Error("GET /dashboard: the body shows the victim's name")
	}
}

func TestForgedTokensRejected(t *testing.T) {
	f := newForgeryFixture(t)
	keys, err := attackerKeys()
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(testSecret)
	parts := strings.Split(f.genuine, ".")
	now := f.app.clock.Now()

	t.Run("control: genuine and hand-signed tokens are accepted", func(t *testing.T) {
		for _, tok := range []string{f.genuine, hmacToken(t, "HS256", secret, nil, f.claims)} {
			if w := f.askMe(tok); w.Code != http.StatusOK {
				t.Fatalf("GET /api/me: %d %s", w.Code, w.Body.String())
			}
			if w := f.askDashboard(tok); w.Code != http.StatusOK {
				t.Fatalf("GET /dashboard: %d", w.Code)
			}
		}
	})

	tamperedClaims := f.with(func(c map[string]any) { c["username"] = "admin"; c["sub"] = "someone-else" })
	cases := []struct {
		name  string
		token string
	}{
		{"nok, alg none", unsigned(t, "none", f.claims)},
		{"nok, alg None", unsigned(t, "None", f.claims)},
		{"nok, alg NONE", unsigned(t, "NONE", f.claims)},
		{"nok, alg nOnE", unsigned(t, "nOnE", f.claims)},
		{"nok, alg none with the genuine signature", strings.TrimSuffix(unsigned(t, "none", f.claims), ".") + "." + parts[2]},
		{"nok, alg empty", unsigned(t, "", f.claims)},
		{"nok, stripped signature", parts[0] + "." + parts[1] + "."},
		{"nok, signature segment removed", parts[0] + "." + parts[1]},
		{"nok, tampered payload, genuine signature", parts[0] + "." + segment(t, tamperedClaims) + "." + parts[2]},
		{"nok, signature of another payload", parts[0] + "." + segment(t, tamperedClaims) + "." + signatureOf(hmacToken(t, "HS256", secret, nil, f.claims))},
		{"nok, HS384 with the right secret", hmacToken(t, "HS384", secret, nil, f.claims)},
		{"nok, HS512 with the right secret", hmacToken(t, "HS512", secret, nil, f.claims)},
		{"nok, HS256 with the attacker's secret", hmacToken(t, "HS256", attackerSecret, nil, f.claims)},
		{"nok, HS256 with an empty key", hmacToken(t, "HS256", nil, nil, f.claims)},
		{"nok, RS256 with the attacker's key", asymToken(t, jwt.SigningMethodRS256, keys.rsa, nil, f.claims)},
		{"nok, ES256 with the attacker's key", asymToken(t, jwt.SigningMethodES256, keys.ec, nil, f.claims)},
		{"nok, RS256 with the attacker's key in a jwk header", asymToken(t, jwt.SigningMethodRS256, keys.rsa, map[string]any{"jwk": map[string]any{
			"kty": "RSA", "e": "AQAB", "n": base64.RawURLEncoding.EncodeToString(keys.rsa.N.Bytes()),
		}}, f.claims)},
		{"nok, HS256 with the attacker's secret in a jwk header", hmacToken(t, "HS256", attackerSecret, map[string]any{"jwk": map[string]any{
			"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attackerSecret),
		}}, f.claims)},
		{"nok, jku to the attacker's key set", asymToken(t, jwt.SigningMethodRS256, keys.rsa, map[string]any{"jku": "https://evil.example/jwks.json"}, f.claims)},
		{"nok, x5u to the attacker's certificate", asymToken(t, jwt.SigningMethodRS256, keys.rsa, map[string]any{"x5u": "https://evil.example/cert.pem"}, f.claims)},
		{"nok, kid path traversal, empty key", hmacToken(t, "HS256", nil, map[string]any{"kid": "../../../../dev/null"}, f.claims)},
		{"nok, kid path traversal, file contents as key", hmacToken(t, "HS256", []byte("root:x:0:0:root:/root:/bin/bash\n"), map[string]any{"kid": "../../etc/passwd"}, f.claims)},
		{"nok, kid SQL injection", hmacToken(t, "HS256", attackerSecret, map[string]any{"kid": "' OR 1=1 --"}, f.claims)},
		{"nok, kid UNION SELECT", hmacToken(t, "HS256", []byte("x"), map[string]any{"kid": "x' UNION SELECT 'x"}, f.claims)},
		{"nok, kid 10 KB", hmacToken(t, "HS256", attackerSecret, map[string]any{"kid": strings.Repeat("k", 10<<10)}, f.claims)},
		{"nok, kid is an object", hmacToken(t, "HS256", attackerSecret, map[string]any{"kid": map[string]any{"$ne": ""}}, f.claims)},
		{"nok, kid with NUL and newline", hmacToken(t, "HS256", attackerSecret, map[string]any{"kid": "a\x00b\nc"}, f.claims)},
		{"nok, exp missing", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { delete(c, "exp") }))},
		{"nok, exp a quoted number", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["exp"] = "9999999999" }))},
		{"nok, exp not a number", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["exp"] = "tomorrow" }))},
		{"nok, exp null", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["exp"] = nil }))},
		{"nok, EXP in upper case, quoted", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { delete(c, "exp"); c["EXP"] = "9999999999" }))},
		{"nok, exp in the past", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }))},
		{"nok, nbf in the future", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }))},
		{"nok, iat missing", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { delete(c, "iat") }))},
		{"nok, iss wrong", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["iss"] = "evil" }))},
		{"nok, iss missing", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { delete(c, "iss") }))},
		{"nok, aud wrong", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["aud"] = "another-service" }))},
		{"nok, aud list without us", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { c["aud"] = []string{"a", "b"} }))},
		{"nok, aud missing", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { delete(c, "aud") }))},
		{"nok, sub missing", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { delete(c, "sub") }))},
		{"nok, sid missing", hmacToken(t, "HS256", secret, nil, f.with(func(c map[string]any) { delete(c, "sid") }))},
		{"nok, a refresh token as access token", f.refresh},
		{"nok, 60 KB of dots", strings.Repeat(".", 60<<10)},
		{"nok, 60 KB token-shaped", strings.Repeat("a", 30<<10) + "." + strings.Repeat("b", 30<<10) + ".c"},
		{"nok, empty", ""},
		{"nok, garbage", "not-a-token"},
		{"nok, four segments", f.genuine + ".x"},
		{"nok, payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + "." + parts[2]},
		{"nok, padded base64", parts[0] + "=." + parts[1] + "." + parts[2]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { f.assertRejected(t, tc.token) })
	}

	t.Run("nok, the genuine token after it expires", func(t *testing.T) {
		f.app.clock.Advance(6 * time.Minute)
		defer f.app.clock.Advance(-6 * time.Minute)
		w := f.askMe(f.genuine)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("got %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if w := f.askDashboard(f.genuine); w.Code != http.StatusUnauthorized {
			t.Errorf("GET /dashboard: %d, want the 401 interstitial", w.Code)
		}
	})
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
	for _, panics := range []bool{false, true} {
		name := "store error"
		if panics {
			name = "panic"
		}
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
