package handlers

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
)

const goodPassword = "correct horse battery"

func TestRegisterSetsBothCookiesAndLogsIn(t *testing.T) {
	a := newTestApp(t)
	b := a.browser()
	w := b.post("/auth/register", url.Values{"username": {"Alice"}, "password": {goodPassword}, "password_confirm": {goodPassword}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/dashboard" {
		t.Fatalf("status %d location %q, want 303 /dashboard", w.Code, w.Header().Get("Location"))
	}
	access, refresh := b.cookies[AccessCookie], b.cookies[RefreshCookie]
	if access == nil || refresh == nil {
		t.Fatalf("cookies set: %v", w.Header().Values("Set-Cookie"))
	}
	if access.Path != "/" || !access.HttpOnly || access.SameSite != http.SameSiteLaxMode || access.Secure {
		t.Errorf("access cookie attributes: %+v", access)
	}
	if refresh.Path != "/auth" || !refresh.HttpOnly || refresh.SameSite != http.SameSiteStrictMode || refresh.Secure {
		t.Errorf("refresh cookie attributes: %+v", refresh)
	}
	sess := a.sessionOf(t, b)
	if !access.Expires.Equal(sess.ExpiresAt().Truncate(time.Second)) {
		t.Errorf("access cookie expires %v, want the session's end %v", access.Expires, sess.ExpiresAt())
	}
	if strings.Contains(w.Body.String(), refresh.Value) || strings.Contains(w.Body.String(), access.Value) {
		t.Error("a token leaked into the response body")
	}
	page := b.get("/dashboard")
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `data-testid="username">Alice<`) {
		t.Fatalf("dashboard: %d", page.Code)
	}
}

func TestCookiesAreSecureInProductionAndOverHTTPS(t *testing.T) {
	prod := newTestApp(t, func(d *testDeps) { d.Settings.Production = true })
	b := prod.mustRegister(t, "bob", goodPassword)
	access, refresh := CookieNames(true)
	if !b.cookies[access].Secure || !b.cookies[refresh].Secure {
		t.Error("production cookies are not Secure")
	}

	a := newTestApp(t)
	r := httptest.NewRequest(http.MethodPost, "https://app.example/auth/register",
		strings.NewReader(url.Values{"username": {"carol"}, "password": {goodPassword}, "password_confirm": {goodPassword}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := a.browser().do(r)
	for _, c := range w.Result().Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s over HTTPS is not Secure", c.Name)
		}
	}
	if len(w.Result().Cookies()) != 2 {
		t.Fatalf("want 2 cookies, got %d (status %d)", len(w.Result().Cookies()), w.Code)
	}
}

func TestRegisterRejectsInvalidInputPerField(t *testing.T) {
	a := newTestApp(t)
	a.mustRegister(t, "taken", goodPassword)
	long := strings.Repeat("p", maxPassword+1)
	tests := []struct {
		name, username, pw, confirm, field, message string
	}{
		{"nok, empty username", "", goodPassword, goodPassword, "username", "Choose a username."},
		{"nok, short username", "ab", goodPassword, goodPassword, "username", "at least 3"},
		{"nok, long username", strings.Repeat("a", 33), goodPassword, goodPassword, "username", "at most 32"},
		{"nok, username with space", "a b c", goodPassword, goodPassword, "username", "Use letters"},
		{"nok, username starting with a dot", ".abc", goodPassword, goodPassword, "username", "Use letters"},
		{"nok, non-ASCII username", "ålice", goodPassword, goodPassword, "username", "Use letters"},
		{"nok, NUL in username", "ali\x00ce", goodPassword, goodPassword, "username", "plain text"},
		{"nok, invalid UTF-8 in username", "ali\xffce", goodPassword, goodPassword, "username", "plain text"},
		{"nok, short password", "dave", "short", "short", "password", "at least 8"},
		{"nok, password too long is refused, not cut", "dave", long, long, "password", "at most 128"},
		{"nok, passwords differ", "dave", goodPassword, goodPassword + "!", "password_confirm", "differ"},
		{"nok, username taken in another case", "TAKEN", goodPassword, goodPassword, "username", "taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertRegisterRefused(t, a, tt.username, tt.pw, tt.confirm, tt.field, tt.message)
		})
	}
}

// assertRegisterRefused posts a registration and expects it refused: 422,
// the message next to field in an alert, and no cookies.
func assertRegisterRefused(t *testing.T, a *testApp, username, pw, confirm, field, message string) {
	t.Helper()
	b := a.browser()
	w := b.post("/auth/register", url.Values{"username": {username}, "password": {pw}, "password_confirm": {confirm}})
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", w.Code)
	}
	body := html.UnescapeString(w.Body.String())
	if !strings.Contains(body, `data-testid="`+field+`-error"`) || !strings.Contains(body, message) {
		t.Errorf("no %q error mentioning %q in the form", field, message)
	}
	if !strings.Contains(body, `role="alert"`) {
		t.Error(`errors are not in role="alert"`)
	}
	if len(b.cookies) != 0 {
		t.Error("cookies set on a refused registration")
	}
}

func TestPasswordAtMaximumLengthWorks(t *testing.T) {
	a := newTestApp(t)
	pw := strings.Repeat("üß", maxPassword/2) // 128 characters, 256 bytes
	a.mustRegister(t, "maxlen", pw)
	a.mustLogin(t, "maxlen", pw)
	b := a.browser()
	if w := b.post("/auth/login", url.Values{"username": {"maxlen"}, "password": {pw[:len(pw)-2]}}); w.Code != http.StatusUnauthorized {
		t.Errorf("a prefix of the password logged in: %d", w.Code)
	}
}

func TestLoginRedirectsToSafeNextOnly(t *testing.T) {
	a := newTestApp(t)
	a.mustRegister(t, "erin", goodPassword)
	tests := []struct{ name, next, want string }{
		{"ok, no next", "", "/dashboard"},
		{"ok, local path with query", "/sessions?tab=all", "/sessions?tab=all"},
		{"nok, absolute URL", "https://evil.example/", "/dashboard"},
		{"nok, scheme-relative", "//evil.example", "/dashboard"},
		{"nok, backslash", "/\\evil.example", "/dashboard"},
		{"nok, javascript", "javascript:alert(1)", "/dashboard"},
		{"nok, encoded slashes", "/%2F%2Fevil.example", "/dashboard"},
		{"nok, tab trick", "/\t/evil.example", "/dashboard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := a.browser().post("/auth/login", url.Values{"username": {"erin"}, "password": {goodPassword}, "next": {tt.next}})
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tt.want {
				t.Errorf("status %d location %q, want 303 %q", w.Code, w.Header().Get("Location"), tt.want)
			}
		})
	}
}

func TestLoginFailureIsGeneric(t *testing.T) {
	a := newTestApp(t)
	a.mustRegister(t, "frank", goodPassword)
	unknown := a.browser().post("/auth/login", url.Values{"username": {"nobody"}, "password": {goodPassword}, "next": {"/sessions"}})
	wrong := a.browser().post("/auth/login", url.Values{"username": {"frank"}, "password": {"wrong password"}, "next": {"/sessions"}})
	for name, w := range map[string]*httptest.ResponseRecorder{"unknown user": unknown, "wrong password": wrong} {
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, w.Code)
		}
		body := w.Body.String()
		if !strings.Contains(body, `role="alert"`) || !strings.Contains(body, loginFailed) {
			t.Errorf("%s: the generic message is missing", name)
		}
		if !strings.Contains(body, `name="next" value="/sessions"`) {
			t.Errorf("%s: next was not kept in the form", name)
		}
		if len(w.Result().Cookies()) != 0 {
			t.Errorf("%s: cookies set", name)
		}
	}
}

func TestLoginBadInputIsA4xx(t *testing.T) {
	a := newTestApp(t)
	tests := []struct {
		name, contentType, body string
		want                    int
	}{
		{"nok, missing fields", "application/x-www-form-urlencoded", "", http.StatusBadRequest},
		{"nok, JSON body", "application/json", `{"username":"a","password":"b"}`, http.StatusUnsupportedMediaType},
		{"nok, broken content type", "text/;;", "a=b", http.StatusUnsupportedMediaType},
		{"nok, invalid UTF-8", "application/x-www-form-urlencoded", "username=%ff%fe&password=abcdefgh", http.StatusBadRequest},
		{"nok, NUL in password", "application/x-www-form-urlencoded", "username=abc&password=ab%00cdefgh", http.StatusBadRequest},
		{"nok, very long username", "application/x-www-form-urlencoded", "username=" + strings.Repeat("a", 5000) + "&password=abcdefgh", http.StatusBadRequest},
		{"nok, body over the limit", "application/x-www-form-urlencoded", "username=" + strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge},
		{"nok, bad percent-encoding", "application/x-www-form-urlencoded", "username=%zz", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			w := a.browser().do(r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %.200s", w.Code, tt.want, w.Body.String())
			}
			if strings.TrimSpace(w.Body.String()) == "" {
				t.Error("no message in the body")
			}
		})
	}
}

func TestGuardOnPagesAndJSON(t *testing.T) {
	a, b := newTestAppWithUser(t, "grace")

	t.Run("page without a token redirects to login with next", func(t *testing.T) {
		w := a.browser().get("/sessions?x=1")
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/auth/login?next="+url.QueryEscape("/sessions?x=1") {
			t.Fatalf("status %d location %q", w.Code, w.Header().Get("Location"))
		}
	})
	t.Run("JSON without a token is 401 with a realm challenge", func(t *testing.T) {
		w := a.browser().get("/api/me")
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Bearer realm="tokenflow"` {
			t.Fatalf("status %d challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", w.Header())
		}
	})
	t.Run("JSON with the cookie returns the claims", func(t *testing.T) {
		w := b.get("/api/me")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"username":"grace"`) || !strings.Contains(w.Body.String(), `"sid":`) {
			t.Fatalf("status %d body %s", w.Code, w.Body.String())
		}
	})
	t.Run("JSON with a Bearer header returns the claims", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		r.Header.Set("Authorization", "Bearer "+b.cookie(AccessCookie))
		w := a.browser().do(r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("a token in the URL is ignored", func(t *testing.T) {
		w := a.browser().get("/api/me?access_token=" + b.cookie(AccessCookie))
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("expired token: JSON says invalid_token, page shows the interstitial", func(t *testing.T) {
		a.clock.Advance(6 * time.Minute)
		defer a.clock.Advance(-6 * time.Minute)
		w := b.get("/api/me")
		want := `Bearer realm="tokenflow", error="invalid_token", error_description="the access token expired"`
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != want {
			t.Fatalf("status %d challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
		page := b.get("/dashboard?tab=1")
		body := page.Body.String()
		if page.Code != http.StatusUnauthorized || !strings.Contains(body, `data-testid="interstitial"`) {
			t.Fatalf("status %d", page.Code)
		}
		if !strings.Contains(body, `data-next="/dashboard?tab=1"`) || !regexp.MustCompile(`<noscript>.*<form method="post" action="/auth/refresh">.*</noscript>`).MatchString(body) ||
			!strings.Contains(body, `src="/static/interstitial.js"`) {
			t.Errorf("interstitial lacks next, the no-script form or its script:\n%s", body)
		}
		if page.Header().Get("Cache-Control") != "no-store" {
			t.Error("interstitial is cacheable")
		}
	})
}

func TestLogoutRevokesTheSessionAndClearsCookies(t *testing.T) {
	a, b := newTestAppWithUser(t, "heidi")
	sess := a.sessionOf(t, b)

	if w := b.get("/auth/logout"); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /auth/logout: %d, want 405", w.Code)
	}
	if w := b.get("/auth/refresh"); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /auth/refresh: %d, want 405", w.Code)
	}
	if s := a.sessionOf(t, b); s.Revoked() {
		t.Fatal("a GET revoked the session")
	}

	refresh := b.cookie(RefreshCookie)
	w := b.post("/auth/logout", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/auth/login" {
		t.Fatalf("status %d location %q", w.Code, w.Header().Get("Location"))
	}
	cleared := map[string]*http.Cookie{}
	for _, c := range w.Result().Cookies() {
		cleared[c.Name] = c
	}
	for name, path := range map[string]string{AccessCookie: "/", RefreshCookie: "/auth"} {
		c := cleared[name]
		if c == nil || c.MaxAge >= 0 || c.Value != "" || c.Path != path || !c.HttpOnly {
			t.Errorf("%s not cleared with matching attributes: %+v", name, c)
		}
	}
	got, err := a.store.Session(context.Background(), sess.ID)
	if err != nil || got.RevokeReason != store.EventLogout {
		t.Fatalf("session after logout: %+v, %v", got, err)
	}
	if page := b.get("/auth/login"); !strings.Contains(page.Body.String(), "You have logged out.") {
		t.Error("the login page does not confirm the logout")
	}

	// The old refresh token is dead.
	replay := a.browser()
	replay.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: refresh, Path: "/auth"}
	if w := replay.fetchRefresh(); w.Code != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d", w.Code)
	}
}

func TestHealthz(t *testing.T) {
	a := newTestApp(t)
	if w := a.browser().get("/healthz"); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	a.store.Close()
	if w := a.browser().get("/healthz"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("closed store: status %d, want 503", w.Code)
	}
}

func TestUnknownPathsAre404NotLogin(t *testing.T) {
	a := newTestApp(t)
	for _, p := range []string{"/nope", "/api/nope", "/dashboard/x"} {
		if w := a.browser().get(p); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, w.Code)
		}
	}
}
