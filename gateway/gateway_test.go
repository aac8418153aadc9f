package gateway_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/gateway"
	"tokenflow/httpx"
	"tokenflow/httpx/jwkstest"
	"tokenflow/internal/testkit"
	"tokenflow/tokens"
)

const accessCookie = "tf_access_token"

// upstream is a fake service that counts requests and keeps the headers of
// the last one.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last http.Header
	path string
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		u.mu.Lock()
		u.last, u.path = r.Header.Clone(), r.URL.RequestURI()
		u.mu.Unlock()
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastRequest() (http.Header, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.path
}

type fixture struct {
	key   jwkstest.Key
	jwks  *jwkstest.Server
	auth  *upstream
	notes *upstream
	gw    *httptest.Server
	clock *testkit.Clock
	heard *resultLog
}

// resultLog is a gateway.Observer that keeps what it heard.
type resultLog struct {
	mu      sync.Mutex
	results []gateway.VerifyResult
}

func (l *resultLog) TokenVerified(r gateway.VerifyResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
}

func (l *resultLog) take() []gateway.VerifyResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.results
	l.results = nil
	return r
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{key: jwkstest.NewKey(t), clock: testkit.NewClock(time.Unix(1_800_000_000, 0)), heard: &resultLog{}}
	f.jwks = jwkstest.NewServer(t, f.key)
	f.auth, f.notes = newUpstream(t, "auth"), newUpstream(t, "notes")
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: f.jwks.JWKSURL(), Now: f.clock.Now, Go: func(fn func()) { fn() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifier, err := cache.Verifier(tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	authURL, _ := url.Parse(f.auth.URL)
	notesURL, _ := url.Parse(f.notes.URL)
	e, err := gateway.New(gateway.Config{AuthURL: authURL, NotesURL: notesURL, Verifier: verifier, AccessCookie: accessCookie, Observer: f.heard})
	if err != nil {
		t.Fatal(err)
	}
	f.gw = httptest.NewServer(e)
	t.Cleanup(f.gw.Close)
	return f
}

func (f *fixture) get(t *testing.T, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.gw.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values // as written: no canonicalisation
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// signRaw signs a header and payload written by hand with key, so tests
// can send what no JWT library would produce.
func signRaw(t *testing.T, method jwt.SigningMethod, key any, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := method.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

func TestGatewayForgeriesAreRefusedAndNeverForwarded(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	attacker := jwkstest.NewKey(t)
	valid := jwkstest.Claims("victim", now)
	with := func(name string, value any) jwt.MapClaims {
		c := jwkstest.Claims("victim", now)
		if value == nil {
			delete(c, name)
		} else {
			c[name] = value
		}
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&f.key.Private.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, _ := json.Marshal(f.key.JWK())
	attackerJWK, _ := json.Marshal(attacker.JWK())
	es := jwt.SigningMethodES256
	hdr := func(kid string) map[string]any { return map[string]any{"kid": kid, "typ": "at+jwt"} }
	withHeader := func(extra map[string]any) map[string]any {
		h := hdr(attacker.Kid)
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	validPayload, _ := json.Marshal(valid)
	payloadStr := string(validPayload)

	tests := []struct {
		name  string
		token string
	}{
		{"nok, alg confusion: HS256 with the public key (DER) as secret", jwkstest.SignHeader(t, jwt.SigningMethodHS256, pubDER, hdr(f.key.Kid), valid)},
		{"nok, alg confusion: HS256 with the JWK JSON as secret", jwkstest.SignHeader(t, jwt.SigningMethodHS256, jwkJSON, hdr(f.key.Kid), valid)},
		{"nok, alg none", jwkstest.SignHeader(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr(f.key.Kid), valid)},
		{"nok, alg none, no signature, published kid", strings.TrimSuffix(signRaw(t, es, f.key.Private, `{"alg":"none","kid":"`+f.key.Kid+`","typ":"at+jwt"}`, payloadStr), "") + "x"},
		{"nok, jku pointing at the attacker's keys", jwkstest.SignHeader(t, es, attacker.Private, withHeader(map[string]any{"jku": "https://evil.example/jwks.json"}), valid)},
		{"nok, jwk embedding the attacker's key", jwkstest.SignHeader(t, es, attacker.Private, withHeader(map[string]any{"jwk": json.RawMessage(attackerJWK)}), valid)},
		{"nok, x5u", jwkstest.SignHeader(t, es, attacker.Private, withHeader(map[string]any{"x5u": "https://evil.example/cert.pem"}), valid)},
		{"nok, kid path traversal", jwkstest.SignHeader(t, es, attacker.Private, hdr("../../etc/passwd"), valid)},
		{"nok, kid SQL", jwkstest.SignHeader(t, es, attacker.Private, hdr("' OR 1=1 --"), valid)},
		{"nok, never-published key with its own kid", jwkstest.Token(t, attacker, "victim", now)},
		{"nok, never-published key claiming the published kid", jwkstest.SignHeader(t, es, attacker.Private, hdr(f.key.Kid), valid)},
		{"nok, wrong iss", jwkstest.Sign(t, f.key, with("iss", "https://evil.example"))},
		{"nok, wrong aud", jwkstest.Sign(t, f.key, with("aud", "another-service"))},
		{"nok, expired", jwkstest.Sign(t, f.key, with("exp", now.Add(-time.Minute).Unix()))},
		{"nok, no exp", jwkstest.Sign(t, f.key, with("exp", nil))},
		{"nok, exp as a string", jwkstest.Sign(t, f.key, with("exp", fmt.Sprint(now.Add(time.Hour).Unix())))},
		{"nok, missing typ", jwkstest.SignHeader(t, es, f.key.Private, map[string]any{"kid": f.key.Kid}, valid)},
		{"nok, typ JWT", jwkstest.SignHeader(t, es, f.key.Private, map[string]any{"kid": f.key.Kid, "typ": "JWT"}, valid)},
		{"nok, crit header", jwkstest.SignHeader(t, es, f.key.Private, map[string]any{"kid": f.key.Kid, "typ": "at+jwt", "crit": []string{"exp"}}, valid)},
		{"nok, duplicate sub", signRaw(t, es, f.key.Private, `{"alg":"ES256","kid":"`+f.key.Kid+`","typ":"at+jwt"}`, strings.Replace(payloadStr, `"sub":"victim"`, `"sub":"victim","SUB":"admin"`, 1))},
		{"nok, signature of another token", func() string {
			a := strings.Split(jwkstest.Token(t, f.key, "victim", now), ".")
			b := strings.Split(jwkstest.Token(t, f.key, "admin", now), ".")
			return a[0] + "." + b[1] + "." + a[2]
		}()},
		{"nok, garbage", "not-a-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.notes.hits.Load()
			resp, body := f.get(t, "/api/notes", bearer(tt.token))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control = %q", got)
			}
			if f.notes.hits.Load() != before {
				t.Fatal("a forged token reached the notes service")
			}
		})
	}
	// The same forgeries in the access cookie.
	for _, tt := range tests[:3] {
		before := f.notes.hits.Load()
		resp, _ := f.get(t, "/api/notes/x", http.Header{"Cookie": {accessCookie + "=" + tt.token}})
		if resp.StatusCode != http.StatusUnauthorized || f.notes.hits.Load() != before {
			t.Fatalf("cookie %s: status %d, forwarded %v", tt.name, resp.StatusCode, f.notes.hits.Load() != before)
		}
	}
}

func TestGatewayWithoutTokenChallenges(t *testing.T) {
	f := newFixture(t)
	token := jwkstest.Token(t, f.key, "u1", f.clock.Now())
	for name, tc := range map[string]struct {
		path   string
		header http.Header
	}{
		"no token":                     {"/api/notes", nil},
		"token in the URL only":        {"/api/notes?access_token=" + token, nil},
		"two different access cookies": {"/api/notes", http.Header{"Cookie": {accessCookie + "=" + token + "; " + accessCookie + "=" + jwkstest.Token(t, f.key, "u2", f.clock.Now())}}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, _ := f.get(t, tc.path, tc.header)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="tokenflow"` {
				t.Fatalf("status %d, challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if f.notes.hits.Load() != 0 {
				t.Fatal("forwarded without a token")
			}
		})
	}
}

func TestGatewayForwardsVerifiedIdentity(t *testing.T) {
	f := newFixture(t)
	token := jwkstest.Token(t, f.key, "u1", f.clock.Now())
	for _, tc := range []struct {
		name, path string
		header     http.Header
	}{
		{"bearer, list", "/api/notes", bearer(token)},
		{"cookie, one note", "/api/notes/abc", http.Header{"Cookie": {accessCookie + "=" + token}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.get(t, tc.path, tc.header)
			if resp.StatusCode != http.StatusOK || body != "notes "+tc.path {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			h, _ := f.notes.lastRequest()
			if h.Get("X-User-ID") != "u1" || h.Get("X-Session-ID") != "session-u1" || h.Get("X-Username") != "name-u1" {
				t.Fatalf("identity headers %v", h)
			}
		})
	}
}

func TestGatewayStripsIdentityHeadersInEverySpelling(t *testing.T) {
	f := newFixture(t)
	token := jwkstest.Token(t, f.key, "u1", f.clock.Now())
	spellings := []string{
		"X-User-ID", "x-user-id", "X-USER-ID", "X_User_ID", "x_user_id", "X-User_Id",
		"X-Session-ID", "x_session_id", "X-Username", "X_USERNAME", "x-username",
	}
	forged := http.Header{"Authorization": {"Bearer " + token}}
	for _, name := range spellings {
		forged[name] = []string{"admin"}
	}
	normalise := func(name string) string { return strings.ReplaceAll(strings.ToLower(name), "_", "-") }
	identity := map[string]string{"x-user-id": "u1", "x-session-id": "session-u1", "x-username": "name-u1"}

	t.Run("notes: only the gateway's values arrive", func(t *testing.T) {
		resp, _ := f.get(t, "/api/notes", forged)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		h, _ := f.notes.lastRequest()
		seen := map[string]int{}
		for name, values := range h {
			n := normalise(name)
			want, isIdentity := identity[n]
			if !isIdentity {
				continue
			}
			seen[n]++
			if len(values) != 1 || values[0] != want {
				t.Errorf("%s: %q reached the service, want only %q", name, values, want)
			}
		}
		for n := range identity {
			if seen[n] != 1 {
				t.Errorf("%s arrived under %d names, want 1", n, seen[n])
			}
		}
	})
	t.Run("auth server: none arrive", func(t *testing.T) {
		resp, body := f.get(t, "/api/me", forged)
		if resp.StatusCode != http.StatusOK || body != "auth /api/me" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		h, _ := f.auth.lastRequest()
		for name := range h {
			if _, isIdentity := identity[normalise(name)]; isIdentity {
				t.Errorf("%s reached the auth server", name)
			}
		}
	})
}

func TestGatewayRoutesEverythingElseToAuthUntouched(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/", "/auth/login?next=%2Fdashboard", "/api/me", "/api/notesX", "/API/notes", "/static/app.css", "/.well-known/jwks.json", "/auth/x?a=1;b=%zz"} {
		resp, body := f.get(t, path, http.Header{"Cookie": {"tf_refresh_token=r"}})
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "auth ") {
			t.Fatalf("%s: status %d body %q", path, resp.StatusCode, body)
		}
		h, uri := f.auth.lastRequest()
		if uri != path || h.Get("Cookie") != "tf_refresh_token=r" {
			t.Fatalf("%s: auth server saw %s with Cookie %q", path, uri, h.Get("Cookie"))
		}
	}
	if f.notes.hits.Load() != 0 {
		t.Fatal("a non-notes path reached the notes service")
	}
}

func TestGatewayJWKSOutage(t *testing.T) {
	f := newFixture(t)
	f.jwks.SetDown(true)
	f.clock.Advance(time.Hour) // the JWKS is stale and cannot be refetched
	resp, _ := f.get(t, "/api/notes", bearer(jwkstest.Token(t, f.key, "u1", f.clock.Now())))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cached key during outage: status %d, want 200", resp.StatusCode)
	}
	resp, _ = f.get(t, "/api/notes", bearer(jwkstest.Token(t, jwkstest.NewKey(t), "u1", f.clock.Now())))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown kid during outage: status %d, want 401", resp.StatusCode)
	}
}

func TestGatewayBogusKidFloodBounded(t *testing.T) {
	f := newFixture(t)
	before := f.jwks.Fetches()
	for i := range 200 {
		tok := jwkstest.SignHeader(t, jwt.SigningMethodES256, f.key.Private, map[string]any{"kid": fmt.Sprintf("bogus-%d", i), "typ": "at+jwt"}, jwkstest.Claims("u1", f.clock.Now()))
		resp, _ := f.get(t, "/api/notes", bearer(tok))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bogus kid %d: status %d", i, resp.StatusCode)
		}
	}
	if got := f.jwks.Fetches() - before; got > 1 {
		t.Fatalf("200 bogus kids caused %d JWKS fetches, want at most 1", got)
	}
	if f.notes.hits.Load() != 0 {
		t.Fatal("a bogus kid was forwarded")
	}
}

func TestGatewayForwardsOneRequestID(t *testing.T) {
	f := newFixture(t)
	for name, sent := range map[string]string{"a plausible id is kept": "abc-123", "a hostile one is replaced": "<script>"} {
		t.Run(name, func(t *testing.T) {
			resp, _ := f.get(t, "/auth/login", http.Header{"X-Request-Id": {sent}})
			h, _ := f.auth.lastRequest()
			got := resp.Header.Get("X-Request-Id")
			if got == "" || h.Get("X-Request-Id") != got {
				t.Fatalf("answered %q, forwarded %q", got, h.Get("X-Request-Id"))
			}
			if (got == sent) != (sent == "abc-123") {
				t.Fatalf("sent %q, got %q", sent, got)
			}
		})
	}
}

// While a JWKS fetch hangs (the auth server slow, for up to the fetch's
// own timeout, here 20 s), a flood of made-up kids is answered 401
// within the gateway's short unknown-kid wait instead of parking every
// request, its goroutine and its connection, for the whole fetch (and then
// for a second one).
func TestGatewayUnknownKidsAreRefusedWhileAFetchHangs(t *testing.T) {
	key := jwkstest.NewKey(t)
	srv := jwkstest.NewServer(t, key)
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: srv.JWKSURL(), Client: &http.Client{Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := cache.Verifier(tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	nowhere, _ := url.Parse("http://127.0.0.1:1")
	e, err := gateway.New(gateway.Config{AuthURL: nowhere, NotesURL: nowhere, Verifier: v, AccessCookie: accessCookie})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(e)
	t.Cleanup(gw.Close)
	client := &http.Client{Timeout: 10 * time.Second} // generous: a parked request fails here, not by a clock
	call := func(i int) (int, error) {
		token := jwkstest.SignHeader(t, jwt.SigningMethodES256, key.Private, map[string]any{"kid": fmt.Sprintf("bogus-%d", i), "typ": "at+jwt"}, jwkstest.Claims("u1", time.Now()))
		req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/notes", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	entered := srv.Hold(t)
	// The first made-up kid starts the early refetch, which hangs.
	if status, err := call(0); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("first bogus kid: status %d, %v", status, err)
	}
	<-entered
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Go(func() {
			if status, err := call(i); err != nil || status != http.StatusUnauthorized {
				t.Errorf("bogus kid %d during the hanging fetch: status %d, %v", i, status, err)
			}
		})
	}
	wg.Wait() // all answered; the fetch is still held (released at cleanup)
}
