package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"tokenflow/auth"
	"tokenflow/internal/testkit"
	"tokenflow/password"
	"tokenflow/store"
	"tokenflow/store/postgres"
	"tokenflow/store/postgres/pgtest"
	"tokenflow/store/sqlite"
	"tokenflow/throttle"
	"tokenflow/tokens"
)

// testApp is the real router over a temporary SQLite file, with small
// argon2 parameters so tests stay fast.
type testApp struct {
	e *echo.Echo
	// store is the store behind the app: Deps.Store when an edit made it a
	// whole store (onBackends), else the SQLite file (which a wrapper of
	// Deps.Store passes calls on to).
	store    store.Store
	tokens   *tokens.Manager
	clock    *testkit.Clock
	settings testSettings
}

const testSecret = "test-secret-test-secret-test-secret!"

// testStore is the store as both the session service and the handlers see it.
type testStore interface {
	auth.Store
	Store
}

// testTokens issue access tokens for the session service and verify them
// for the guard (tokens.Manager).
type testTokens interface {
	auth.Issuer
	TokenVerifier
}

// testDeps are what newTestApp wires together, as package app does; tests
// edit them to swap a part or change a limit.
type testDeps struct {
	Store  testStore
	Tokens interface {
		auth.Issuer
		TokenVerifier
	}
	ExpiredTokens TokenIssuer
	Keys          *tokens.Keyring // the JWKS; nil: HS256
	Readiness     Readiness
	// LabTokens and LabVerifier: nil builds them (tokens.NewLab) on the
	// keyring of Tokens when that is a *tokens.Manager.
	LabTokens   TokenIssuer
	LabVerifier TokenVerifier
	Passwords   auth.Passwords
	Settings    testSettings
	Logger      *slog.Logger
	Now         func() time.Time
	// hashWait replaces auth.MaxHashWait (zero: auth.MaxHashWait).
	hashWait time.Duration
}

// testSettings are the settings of the three parts: the handlers' own, the
// session service's, and the throttle's.
type testSettings struct {
	Settings
	auth.Config
	Limits throttle.Limits
}

// newTestApp builds the app; edit adjusts the parts before New.
func newTestApp(t testing.TB, edit ...func(*testDeps)) *testApp {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.Now = clock.Now
	tm, err := tokens.NewManager(tokens.Config{
		Secret: []byte(testSecret), Issuer: "tokenflow", Audience: "tokenflow",
		TTL: 5 * time.Minute, Leeway: time.Second, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	// As app wires it: a second issuer on the same keys, its clock one
	// TTL and a minute behind.
	expired, err := tokens.NewIssuer(tm.Keys(), tokens.IssuerConfig{
		Issuer: "tokenflow", Audience: "tokenflow", TTL: 5 * time.Minute,
		Now: func() time.Time { return clock.Now().Add(-5*time.Minute - time.Minute) },
	})
	if err != nil {
		t.Fatal(err)
	}
	d := testDeps{
		Store:         st,
		Tokens:        tm,
		ExpiredTokens: expired,
		Passwords:     password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 4),
		Now:           clock.Now,
		Settings: testSettings{
			Config: auth.Config{
				RefreshTokenTTL:    time.Hour,
				SessionMaxAge:      24 * time.Hour,
				RefreshReuseGrace:  10 * time.Second,
				RefreshRateLimit:   20,
				MaxSessionsPerUser: 10,
			},
			Limits: throttle.Limits{
				LoginFailures:   5,
				AddressFailures: 50,
				Logins:          100,
				Registrations:   30,
				AttemptTimeout:  auth.MaxHashWait,
			},
		},
	}
	for _, f := range edit {
		f(&d)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if m, ok := d.Tokens.(*tokens.Manager); ok && d.LabTokens == nil && d.LabVerifier == nil {
		labTokens, labVerifier, err := tokens.NewLab(m.Keyring(), tokens.LabConfig{Issuer: "tokenflow", Audience: "tokenflow", Leeway: time.Second, Now: d.Now})
		if err != nil {
			t.Fatal(err)
		}
		d.LabTokens, d.LabVerifier = labTokens, labVerifier
	}
	sessions := d.Settings.Config
	sessions.HashWait = d.hashWait
	service := auth.NewService(auth.Deps{
		Store:     d.Store,
		Issuer:    d.Tokens,
		Passwords: d.Passwords,
		Throttle:  throttle.New(throttle.NewMemory(d.Settings.Limits, d.Logger)),
		Config:    sessions,
		Now:       d.Now,
	})
	e, err := New(Deps{
		Auth:          service,
		Store:         d.Store,
		Tokens:        d.Tokens,
		ExpiredTokens: d.ExpiredTokens,
		Keys:          d.Keys,
		Readiness:     d.Readiness,
		LabTokens:     d.LabTokens,
		LabVerifier:   d.LabVerifier,
		Settings:      d.Settings.Settings,
		Logger:        d.Logger,
		Now:           d.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var whole store.Store = st
	if full, ok := d.Store.(store.Store); ok {
		whole = full
	}
	return &testApp{e: e, store: whole, tokens: tm, clock: clock, settings: d.Settings}
}

// withTrustedProxies makes the peers in the prefixes trusted proxies.
func withTrustedProxies(prefixes ...string) func(*testDeps) {
	return func(d *testDeps) {
		for _, p := range prefixes {
			d.Settings.TrustedProxies = append(d.Settings.TrustedProxies, netip.MustParsePrefix(p))
		}
	}
}

// onBackends runs test once per store the app may run on: the SQLite file
// newTestApp makes, and PostgreSQL on a fresh schema of TEST_DATABASE_URL
// (skipped without it, failed under CI=true). Bad input must be answered
// alike on both: PostgreSQL refuses text SQLite keeps (NUL, bytes that
// are not UTF-8) with an error, which would be a 500. use is the edit to
// pass newTestApp.
func onBackends(t *testing.T, test func(t *testing.T, use func(*testDeps))) {
	t.Run("sqlite", func(t *testing.T) { test(t, func(*testDeps) {}) })
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.FreshURL(t)
		test(t, func(d *testDeps) {
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			st.Now = d.Now
			d.Store = st
		})
	})
}

// browser is a cookie jar that behaves like a same-origin browser: it keeps
// Set-Cookie answers and sends the cookies whose Path matches.
type browser struct {
	app     *testApp
	cookies map[string]*http.Cookie // by name; paths checked on send
	// userAgent, when set, is the User-Agent of every request.
	userAgent string
}

func (a *testApp) browser() *browser { return &browser{app: a, cookies: map[string]*http.Cookie{}} }

// do sends r through the router with the jar's cookies and stores new ones.
func (b *browser) do(r *http.Request) *httptest.ResponseRecorder {
	for _, c := range b.cookies {
		if strings.HasPrefix(r.URL.Path, c.Path) {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	if r.RemoteAddr == "" || r.RemoteAddr == "192.0.2.1:1234" {
		r.RemoteAddr = "203.0.113.7:5555"
	}
	if b.userAgent != "" {
		r.Header.Set("User-Agent", b.userAgent)
	} else if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	}
	w := httptest.NewRecorder()
	b.app.e.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
	return w
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post sends a form the way a browser does from our own pages.
func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(r)
}

// fetchRefresh is what app.js does: POST /auth/refresh asking for JSON.
func (b *browser) fetchRefresh() *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(r)
}

func (b *browser) cookie(name string) string {
	if c, ok := b.cookies[name]; ok {
		return c.Value
	}
	return ""
}

// newTestAppWithUser is newTestApp with username registered (with
// goodPassword) in the browser it returns, logged in.
func newTestAppWithUser(t *testing.T, username string) (*testApp, *browser) {
	t.Helper()
	a := newTestApp(t)
	return a, a.mustRegister(t, username, goodPassword)
}

// mustRegister creates a user through the real form and returns the logged-in browser.
func (a *testApp) mustRegister(t *testing.T, username, pw string) *browser {
	t.Helper()
	b := a.browser()
	w := b.post("/auth/register", url.Values{"username": {username}, "password": {pw}, "password_confirm": {pw}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("register %s: status %d, body %s", username, w.Code, w.Body.String())
	}
	return b
}

// mustLogin logs an existing user in with a fresh browser.
func (a *testApp) mustLogin(t *testing.T, username, pw string) *browser {
	t.Helper()
	b := a.browser()
	w := b.post("/auth/login", url.Values{"username": {username}, "password": {pw}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login %s: status %d, body %s", username, w.Code, w.Body.String())
	}
	return b
}

func (a *testApp) sessionOf(t *testing.T, b *browser) store.Session {
	t.Helper()
	cl, err := a.tokens.Verify(b.cookie(AccessCookie))
	if err != nil {
		t.Fatalf("access cookie does not verify: %v", err)
	}
	s, err := a.store.Session(context.Background(), cl.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
