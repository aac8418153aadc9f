package deploy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/app"
	"tokenflow/config"
	"tokenflow/handlers"
	"tokenflow/httpx/jwkstest"
	"tokenflow/internal/testkit"
	"tokenflow/signingkeys"
	"tokenflow/store/sqlite"
	"tokenflow/tokens"
)

const (
	apacheInstall = "apt-get install -y apache2 libapache2-mod-oauth2"
	modOAuth2     = "/usr/lib/apache2/modules/mod_oauth2.so"
	testIssuer    = "tokenflow-test-issuer"
	testAudience  = "tokenflow-test-audience"
	testPassword  = "correct horse battery staple"
	// A fixed KEY_ENCRYPTION_KEY, so the test can open the signing keys
	// the auth server keeps and forge tokens with its real private key.
	testKEK = "apache-test-key-encryption-key-of-32+-characters"
	// JWKS_MAX_AGE in seconds, short so a revocation reaches Apache soon.
	testJWKSMaxAge = 2
)

// TestApacheModOAuth2 runs deploy/apache/httpd.conf in a real Apache in
// front of a real notes service, both verifying tokens issued by a real
// auth server. A recorder between Apache and the notes service shows what
// Apache forwarded, so "never arrives" is seen, not inferred.
func TestApacheModOAuth2(t *testing.T) {
	apache := requireApache(t)
	h := startHarness(t, apache)

	alice := h.register(t, "alice")
	bob := h.register(t, "bobby")
	aliceSub := h.subject(t, alice)

	t.Run("ok, a valid token reaches the notes service with X-User-ID", func(t *testing.T) {
		for _, via := range []string{"bearer", "cookie"} {
			t.Run(via, func(t *testing.T) {
				req := h.request(t, http.MethodGet, "/api/notes/whoami", "")
				sendToken(req, via, alice)
				res, body := h.do(t, req)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("whoami via %s: %d %s", via, res.StatusCode, body)
				}
				var who struct {
					Verified map[string]string `json:"verified"`
					Headers  map[string]string `json:"headers"`
				}
				if err := json.Unmarshal(body, &who); err != nil {
					t.Fatal(err)
				}
				if who.Verified["sub"] != aliceSub || who.Headers["X-User-ID"] != aliceSub {
					t.Fatalf("notes was told %+v, verified %+v; want sub %s in both", who.Headers, who.Verified, aliceSub)
				}
			})
		}
	})

	t.Run("nok, client identity headers never arrive", func(t *testing.T) {
		// Set in the map directly, so Go sends each spelling as written.
		spellings := []string{"X-User-ID", "X_User_ID", "x-user-id", "x_user_id", "X-Session-ID", "X_Session_ID", "x-username", "X_Username"}
		for _, name := range spellings {
			t.Run(name, func(t *testing.T) {
				req := h.request(t, http.MethodGet, "/api/notes/whoami", "")
				sendToken(req, "bearer", alice)
				req.Header[name] = []string{"forged"}
				before := h.notes.count()
				res, body := h.do(t, req)
				if res.StatusCode != http.StatusOK {
					t.Errorf("whoami with %s: %d %s", name, res.StatusCode, body)
				}
				if h.notes.count() == before {
					t.Fatal("the request did not reach the notes service")
				}
				for got, values := range h.notes.last(t) {
					switch strings.ReplaceAll(strings.ToLower(got), "_", "-") {
					case "x-user-id":
						if len(values) != 1 || values[0] != aliceSub {
							t.Errorf("notes received %s: %q, want only %q", got, values, aliceSub)
						}
					case "x-session-id", "x-username":
						t.Errorf("notes received %s: %q", got, values)
					}
				}
			})
		}
	})

	// Tokens shaped like the auth server's, signed with its real current
	// key, each broken in one way.
	keys := h.signingKey(t)
	claims := h.claims(t, alice)
	now := time.Now()
	withClaims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		change(c)
		return c
	}
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	control := keys.sign(t, jwt.SigningMethodES256, keys.private, keys.kid, claims)

	refused := []struct {
		name  string
		token string
	}{
		{"nok, tampered payload (sub of another user)", tamper(t, alice, func(c map[string]any) { c["sub"] = h.subject(t, bob) })},
		{"nok, expired", keys.sign(t, jwt.SigningMethodES256, keys.private, keys.kid, withClaims(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-20*time.Minute).Unix(), now.Add(-10*time.Minute).Unix()
		}))},
		{"nok, alg none", unsigned(t, keys.kid, claims)},
		{"nok, HS256 keyed with the public key", keys.sign(t, jwt.SigningMethodHS256, keys.publicPEM, keys.kid, claims)},
		{"nok, wrong iss", keys.sign(t, jwt.SigningMethodES256, keys.private, keys.kid, withClaims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))},
		{"nok, wrong aud", keys.sign(t, jwt.SigningMethodES256, keys.private, keys.kid, withClaims(func(c jwt.MapClaims) { c["aud"] = []string{"another-service"} }))},
		{"nok, no exp", keys.sign(t, jwt.SigningMethodES256, keys.private, keys.kid, withClaims(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"nok, another key under the published kid", keys.sign(t, jwt.SigningMethodES256, stranger, keys.kid, claims)},
	}
	t.Run("ok, the forged control token passes (the forgery is faithful)", func(t *testing.T) {
		req := h.request(t, http.MethodGet, "/api/notes", "")
		sendToken(req, "bearer", control)
		if res, body := h.do(t, req); res.StatusCode != http.StatusOK {
			t.Fatalf("control token: %d %s", res.StatusCode, body)
		}
	})
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"bearer", "cookie"} {
				before := h.notes.count()
				req := h.request(t, http.MethodPost, "/api/notes", `{"text":"forged"}`)
				sendToken(req, via, tc.token)
				res, body := h.do(t, req)
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("via %s: %d %s, want 401 from Apache", via, res.StatusCode, body)
				}
				if h.notes.count() != before {
					t.Errorf("via %s: Apache forwarded the request to the notes service", via)
				}
			}
		})
	}

	t.Run("nok, a token that expires after Apache has cached its verification", func(t *testing.T) {
		// mod_oauth2 caches each verified token; the cache must not outlive exp.
		exp := time.Now().Add(2 * time.Second)
		token := keys.sign(t, jwt.SigningMethodES256, keys.private, keys.kid, withClaims(func(c jwt.MapClaims) { c["exp"] = exp.Unix() }))
		req := h.request(t, http.MethodGet, "/api/notes", "")
		sendToken(req, "bearer", token)
		if res, body := h.do(t, req); res.StatusCode != http.StatusOK {
			t.Fatalf("before exp: %d %s", res.StatusCode, body)
		}
		// exp is in whole seconds and this is another process's clock: wait
		// for a second past it (no fake clock reaches into Apache).
		for time.Now().Before(exp.Add(1100 * time.Millisecond)) {
			time.Sleep(100 * time.Millisecond)
		}
		before := h.notes.count()
		req = h.request(t, http.MethodGet, "/api/notes", "")
		sendToken(req, "bearer", token)
		res, body := h.do(t, req)
		if res.StatusCode != http.StatusUnauthorized || h.notes.count() != before {
			t.Fatalf("after exp: %d %s, forwarded: %v; want 401 from Apache", res.StatusCode, body, h.notes.count() != before)
		}
	})

	// What mod_oauth2 does not check (seen with 3.3.1): a token without kid
	// passes when a published key verifies it, and typ is not looked at.
	// The notes service verifies again and refuses both: without kid while
	// it publishes more than one key, and any typ but at+jwt.
	passedByApache := []struct {
		name, text string
		header     map[string]any
	}{
		{"nok, no kid", "from a token without kid", map[string]any{"typ": tokens.AccessTokenType}},
		{"nok, typ JWT", "from a token with typ JWT", map[string]any{"typ": "JWT", "kid": keys.kid}},
	}
	for _, tc := range passedByApache {
		t.Run(tc.name+": the notes service refuses it", func(t *testing.T) {
			before := h.notes.count()
			req := h.request(t, http.MethodPost, "/api/notes", `{"text":"`+tc.text+`"}`)
			sendToken(req, "bearer", keys.signHeader(t, jwt.SigningMethodES256, keys.private, tc.header, claims))
			res, body := h.do(t, req)
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%d %s, want 401", res.StatusCode, body)
			}
			if h.notes.count() > before {
				t.Logf("Apache forwarded it; the notes service refused it")
			}
			if notes := h.listNotes(t, alice); strings.Contains(notes, tc.text) {
				t.Fatalf("the token made a note: %s", notes)
			}
		})
	}

	t.Run("ok, a new kid after rotation is accepted without reload", func(t *testing.T) {
		// Apache has the JWKS cached (the requests above), with the current
		// and the next key. Two rotations make a key it has never seen sign.
		seen := keys.published
		for range 2 {
			if err := app.Keys(context.Background(), []string{"rotate"}, h.getenv, io.Discard); err != nil {
				t.Fatal(err)
			}
		}
		var token, kid string
		deadline := time.Now().Add(20 * time.Second) // the auth server polls the store every 2 s
		for {
			token = h.login(t, "alice")
			if kid = headerKid(t, token); !seen[kid] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the auth server still signs with %s after the rotations", kid)
			}
			time.Sleep(500 * time.Millisecond)
		}
		req := h.request(t, http.MethodPost, "/api/notes", `{"text":"after rotation"}`)
		sendToken(req, "cookie", token)
		if res, body := h.do(t, req); res.StatusCode != http.StatusCreated {
			t.Fatalf("token with the new kid %s: %d %s\n%s", kid, res.StatusCode, body, h.apacheLog())
		}
		if notes := h.listNotes(t, token); !strings.Contains(notes, "after rotation") {
			t.Fatalf("alice's notes after rotation: %s", notes)
		}

		t.Run("nok, then revoked: Apache refuses its tokens within JWKS_MAX_AGE", func(t *testing.T) {
			if err := app.Keys(context.Background(), []string{"revoke", kid}, h.getenv, io.Discard); err != nil {
				t.Fatal(err)
			}
			// The auth server polls its store every 2 s, Apache refetches
			// after testJWKSMaxAge: wait for the refusal, within a bound
			// well under mod_oauth2's default JWKS cache of 60 s.
			deadline := time.Now().Add(15 * time.Second)
			for {
				before := h.notes.count()
				req := h.request(t, http.MethodGet, "/api/notes", "")
				sendToken(req, "bearer", token)
				res, _ := h.do(t, req)
				if res.StatusCode == http.StatusUnauthorized && h.notes.count() == before {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("Apache still forwards a token of the revoked key %s: %d", kid, res.StatusCode)
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	})
}

// requireApache returns the apache2 binary, or skips (fails under CI=true)
// when it or mod_oauth2 is missing.
func requireApache(t *testing.T) string {
	t.Helper()
	bin, ok := testkit.LookPath("apache2", "/usr/sbin/apache2")
	if _, err := os.Stat(modOAuth2); !ok || err != nil {
		testkit.Missing(t, "apache2 with mod_oauth2 is not installed; to run this test: "+apacheInstall)
	}
	return bin
}

type harness struct {
	getenv   func(string) string
	auth     string // the auth server's base URL
	apache   string // Apache's base URL
	notes    *recorder
	errorLog string
}

func startHarness(t *testing.T, apacheBin string) *harness {
	t.Helper()
	dir := t.TempDir()
	authVars := map[string]string{
		"ADDR": "127.0.0.1:0", "DATA_DIR": filepath.Join(dir, "auth"),
		"JWT_ISSUER": testIssuer, "JWT_AUDIENCE": testAudience, "KEY_ENCRYPTION_KEY": testKEK,
		"JWKS_MAX_AGE": fmt.Sprintf("%ds", testJWKSMaxAge),
	}
	h := &harness{getenv: func(k string) string { return authVars[k] }}
	h.auth = start(t, "auth server", func(ctx context.Context, ready func(string)) error {
		return app.RunWith(ctx, app.Options{}, h.getenv, io.Discard, io.Discard, ready)
	})
	notesVars := map[string]string{
		"ADDR": "127.0.0.1:0", "DATA_DIR": filepath.Join(dir, "notes"), "AUTH_URL": h.auth,
		"JWT_ISSUER": testIssuer, "JWT_AUDIENCE": testAudience,
	}
	notesURL := start(t, "notes service", func(ctx context.Context, ready func(string)) error {
		return app.RunNotes(ctx, func(k string) string { return notesVars[k] }, io.Discard, io.Discard, ready)
	})
	h.notes = newRecorder(t, notesURL)

	apacheDir := filepath.Join(dir, "apache")
	if err := os.Mkdir(apacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.errorLog = filepath.Join(apacheDir, "error.log")
	listen := freeAddr(t)
	h.apache = "http://" + listen
	access, _ := handlers.CookieNames(false)
	conf, err := filepath.Abs(filepath.Join("apache", "httpd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(apacheBin, "-f", conf, "-DFOREGROUND")
	cmd.Env = append(os.Environ(),
		"TOKENFLOW_APACHE_DIR="+apacheDir,
		"TOKENFLOW_APACHE_LISTEN="+listen,
		"TOKENFLOW_AUTH="+strings.TrimPrefix(h.auth, "http://"),
		"TOKENFLOW_NOTES="+strings.TrimPrefix(h.notes.URL, "http://"),
		"TOKENFLOW_ISSUER="+testIssuer,
		"TOKENFLOW_AUDIENCE="+testAudience,
		"TOKENFLOW_ACCESS_COOKIE="+access,
		fmt.Sprintf("TOKENFLOW_JWKS_MAX_AGE=%d", testJWKSMaxAge),
	)
	testkit.LogOnFailure(t, "apache error log", stringer(h.apacheLog))
	apache := testkit.StartProcess(t, "apache2", cmd)
	apache.WaitReady(t, func() bool {
		res, err := http.Get(h.apache + "/api/notes")
		if err == nil {
			res.Body.Close()
		}
		return err == nil
	})
	return h
}

// stringer is a func as a fmt.Stringer.
type stringer func() string

func (s stringer) String() string { return s() }

func (h *harness) apacheLog() string {
	b, _ := os.ReadFile(h.errorLog)
	return string(b)
}

// start runs a server until the test ends and returns its base URL.
func start(t *testing.T, name string, run func(context.Context, func(string)) error) string {
	t.Helper()
	return testkit.Start(t, name, run).URL
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// recorder stands between Apache and the notes service and keeps the
// headers of every request Apache forwarded.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func newRecorder(t *testing.T, target string) *recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Clone())
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) last(t *testing.T) http.Header {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		t.Fatal("nothing reached the notes service")
	}
	return r.seen[len(r.seen)-1]
}

// register makes an account at the auth server and returns its access
// token (the cookie the browser would hold).
func (h *harness) register(t *testing.T, user string) string {
	t.Helper()
	return h.form(t, "/auth/register", url.Values{"username": {user}, "password": {testPassword}, "password_confirm": {testPassword}})
}

func (h *harness) login(t *testing.T, user string) string {
	t.Helper()
	return h.form(t, "/auth/login", url.Values{"username": {user}, "password": {testPassword}})
}

func (h *harness) form(t *testing.T, path string, form url.Values) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	res, err := c.PostForm(h.auth+path, form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d", path, res.StatusCode)
	}
	access, _ := handlers.CookieNames(false)
	for _, c := range res.Cookies() {
		if c.Name == access {
			return c.Value
		}
	}
	t.Fatalf("POST %s set no %s cookie", path, access)
	return ""
}

func (h *harness) request(t *testing.T, method, path, jsonBody string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, h.apache+path, strings.NewReader(jsonBody))
	if err != nil {
		t.Fatal(err)
	}
	if jsonBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (h *harness) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func (h *harness) listNotes(t *testing.T, token string) string {
	t.Helper()
	req := h.request(t, http.MethodGet, "/api/notes", "")
	sendToken(req, "bearer", token)
	res, body := h.do(t, req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/notes: %d %s", res.StatusCode, body)
	}
	return string(body)
}

func sendToken(req *http.Request, via, token string) {
	access, _ := handlers.CookieNames(false)
	switch via {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+token)
	case "cookie":
		req.AddCookie(&http.Cookie{Name: access, Value: token})
	}
}

func (h *harness) subject(t *testing.T, token string) string {
	t.Helper()
	sub, _ := h.claims(t, token)["sub"].(string)
	if sub == "" {
		t.Fatal("token has no sub")
	}
	return sub
}

func (h *harness) claims(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func headerKid(t *testing.T, token string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// forger signs tokens with the auth server's current private key, opened
// from the store it uses with the same KEY_ENCRYPTION_KEY.
type forger struct {
	private   *ecdsa.PrivateKey
	publicPEM []byte
	kid       string
	published map[string]bool
}

func (h *harness) signingKey(t *testing.T) forger {
	t.Helper()
	cfg, err := config.Load(h.getenv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(cfg.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := signingkeys.New(st, signingkeys.Config{
		Alg: cfg.JWTAlg, KeyEncryptionKey: testKEK, Rotation: cfg.JWTKeyRotation,
		PublishAhead: 2 * cfg.JWKSMaxAge, KeepPrevious: cfg.AccessTokenTTL + cfg.AccessTokenLeeway + signingkeys.DefaultPollInterval,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	set := m.Keyring().Load()
	current := set.Current()
	der, err := current.MarshalPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("the auth server signs with %s, this test forges ES256", current.Alg())
	}
	pub, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	f := forger{
		private:   ec,
		publicPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		kid:       current.Kid(),
		published: map[string]bool{},
	}
	for _, k := range set.Verification().Keys() {
		f.published[k.Kid()] = true
	}
	return f
}

// sign makes a token with typ at+jwt and, unless kid is empty, kid.
func (f forger) sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	header := map[string]any{"typ": tokens.AccessTokenType}
	if kid != "" {
		header["kid"] = kid
	}
	return f.signHeader(t, method, key, header, claims)
}

// signHeader makes a token whose header is alg and exactly header.
func (f forger) signHeader(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	return jwkstest.SignHeader(t, method, key, header, claims)
}

func unsigned(t *testing.T, kid string, claims jwt.MapClaims) string {
	t.Helper()
	header, err := json.Marshal(map[string]string{"alg": "none", "typ": tokens.AccessTokenType, "kid": kid})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b64(header) + "." + b64(payload) + "."
}

// tamper changes a signed token's payload and keeps its signature.
func tamper(t *testing.T, token string, change func(map[string]any)) string {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil {
		t.Fatal(err)
	}
	change(c)
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	return fmt.Sprintf("%s.%s.%s", parts[0], b64(payload), parts[2])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
