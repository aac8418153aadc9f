package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
)

// Cookie tossing: an attacker on a sibling subdomain (or a page under a
// longer path) plants a second cookie under one of our names. The browser
// then sends both, and whichever the server reads first would pick the
// identity the victim uses, or kill the victim's refresh. Two different
// values under one name grant nothing and clear nothing.

// tossed sends r with cookies given as name=value pairs, in this order, the
// way a browser sends two cookies of one name from different scopes.
func (a *testApp) tossed(r *http.Request, pairs ...string) *httptest.ResponseRecorder {
	var header []string
	for i := 0; i+1 < len(pairs); i += 2 {
		header = append(header, pairs[i]+"="+pairs[i+1])
	}
	r.Header.Set("Cookie", strings.Join(header, "; "))
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.RemoteAddr = "203.0.113.7:5555"
	w := httptest.NewRecorder()
	a.e.ServeHTTP(w, r)
	return w
}

// authCookiesSet lists the Set-Cookie lines of w that touch an auth cookie.
func authCookiesSet(w *httptest.ResponseRecorder, names ...string) []string {
	var touched []string
	for _, c := range w.Result().Cookies() {
		for _, n := range names {
			if c.Name == n {
				touched = append(touched, c.String())
			}
		}
	}
	return touched
}

// expectConflictNotice: w leaves the notice cookie, and the login page it
// leads to says why the user is not logged in. (The planted cookie's Path
// may not reach /auth/login, so that page cannot always see the conflict.)
func expectConflictNotice(t *testing.T, a *testApp, w *httptest.ResponseRecorder) {
	t.Helper()
	var notice *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == noticeCookie {
			notice = c
		}
	}
	if notice == nil {
		t.Fatal("no notice for the login page")
	}
	page := a.tossed(httptest.NewRequest(http.MethodGet, "/auth/login", nil), notice.Name, notice.Value)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "conflicting") {
		t.Errorf("login page: %d, no word about the conflicting cookies", page.Code)
	}
}

func TestConflictingAccessCookiesGrantNothing(t *testing.T) {
	a, victim := newTestAppWithUser(t, "victimuser")
	attacker := a.mustRegister(t, "mallory", goodPassword)
	v, m := victim.cookie(AccessCookie), attacker.cookie(AccessCookie)

	for _, order := range []struct {
		name          string
		first, second string
	}{
		{"victim's cookie first", v, m},
		{"attacker's cookie first", m, v},
	} {
		t.Run(order.name, func(t *testing.T) {
			w := a.tossed(httptest.NewRequest(http.MethodGet, "/dashboard", nil),
				AccessCookie, order.first, AccessCookie, order.second)
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/auth/login?next=%2Fdashboard" {
				t.Errorf("GET /dashboard: %d to %q, want 303 to the login page as with no cookie", w.Code, w.Header().Get("Location"))
			}

			w = a.tossed(httptest.NewRequest(http.MethodGet, "/api/me", nil),
				AccessCookie, order.first, AccessCookie, order.second)
			if got := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || got != `Bearer realm="tokenflow"` {
				t.Errorf("GET /api/me: %d %q, want 401 with the no-token challenge", w.Code, got)
			}
			if body := w.Body.String(); strings.Contains(body, "victimuser") || strings.Contains(body, "mallory") {
				t.Errorf("GET /api/me answered as someone: %s", body)
			}

			// Public pages read the cookie only for the header links; they
			// must not name either account.
			w = a.tossed(httptest.NewRequest(http.MethodGet, "/", nil),
				AccessCookie, order.first, AccessCookie, order.second)
			if body := w.Body.String(); w.Code != http.StatusOK || strings.Contains(body, "victimuser") || strings.Contains(body, "mallory") {
				t.Errorf("GET /: %d, and the header names an account", w.Code)
			}
		})
	}

	t.Run("the login page explains", func(t *testing.T) {
		w := a.tossed(httptest.NewRequest(http.MethodGet, "/dashboard", nil), AccessCookie, m, AccessCookie, v)
		expectConflictNotice(t, a, w)
	})

	t.Run("a Bearer header is not ambiguous", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		r.Header.Set("Authorization", "Bearer "+v)
		w := a.tossed(r, AccessCookie, v, AccessCookie, m)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "victimuser") {
			t.Errorf("GET /api/me with Bearer: %d %s", w.Code, w.Body.String())
		}
	})
}

func TestConflictingRefreshCookiesClearNothing(t *testing.T) {
	a, victim := newTestAppWithUser(t, "victimuser")
	attacker := a.mustRegister(t, "mallory", goodPassword)
	v, m := victim.cookie(RefreshCookie), attacker.cookie(RefreshCookie)
	victimSession, attackerSession := a.sessionOf(t, victim), a.sessionOf(t, attacker)

	for _, tc := range []struct {
		name          string
		first, second string
	}{
		{"victim's cookie first", v, m},
		{"attacker's cookie first", m, v},
		{"attacker's garbage first", "planted-by-a-sibling", v},
	} {
		t.Run(tc.name+", fetch", func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
			r.Header.Set("Accept", "application/json")
			w := a.tossed(r, RefreshCookie, tc.first, RefreshCookie, tc.second)
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "conflicting") {
				t.Errorf("status %d body %s, want 401 saying the cookies conflict", w.Code, w.Body.String())
			}
			if set := authCookiesSet(w, AccessCookie, RefreshCookie); len(set) > 0 {
				t.Errorf("a conflicting request changed the auth cookies: %q", set)
			}
		})
		t.Run(tc.name+", form post", func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/auth/refresh", strings.NewReader("next=%2Fsessions"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := a.tossed(r, RefreshCookie, tc.first, RefreshCookie, tc.second)
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "conflicting") {
				t.Errorf("status %d, want 401 and a login page saying the cookies conflict", w.Code)
			}
			if set := authCookiesSet(w, AccessCookie, RefreshCookie); len(set) > 0 {
				t.Errorf("a conflicting request changed the auth cookies: %q", set)
			}
		})
	}

	t.Run("the login page explains", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
		r.Header.Set("Accept", "application/json")
		w := a.tossed(r, RefreshCookie, m, RefreshCookie, v)
		expectConflictNotice(t, a, w)
	})

	// Nothing was rotated: past the reuse grace, a rotated token would now
	// revoke its session instead of working.
	a.clock.Advance(a.settings.RefreshReuseGrace + time.Second)
	for _, s := range []store.Session{victimSession, attackerSession} {
		got, err := a.store.Session(context.Background(), s.ID)
		if err != nil || got.Revoked() {
			t.Fatalf("session %s after the conflicting requests: %+v, %v", s.ID, got, err)
		}
	}
	if w := victim.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("the victim's refresh token, sent alone: %d %s", w.Code, w.Body.String())
	}
	if w := attacker.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("the attacker's refresh token, sent alone: %d %s", w.Code, w.Body.String())
	}
}

// Logout finds the session through an unambiguous access cookie when the
// refresh cookies conflict; the planted refresh token ends nothing.
func TestLogoutWithConflictingRefreshCookies(t *testing.T) {
	a, victim := newTestAppWithUser(t, "victimuser")
	attacker := a.mustRegister(t, "mallory", goodPassword)
	victimSession, attackerSession := a.sessionOf(t, victim), a.sessionOf(t, attacker)

	w := a.tossed(httptest.NewRequest(http.MethodPost, "/auth/logout", nil),
		RefreshCookie, attacker.cookie(RefreshCookie), RefreshCookie, victim.cookie(RefreshCookie),
		AccessCookie, victim.cookie(AccessCookie))
	if w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if got, err := a.store.Session(context.Background(), victimSession.ID); err != nil || !got.Revoked() {
		t.Errorf("the victim's session survived the victim's logout: %+v, %v", got, err)
	}
	if got, err := a.store.Session(context.Background(), attackerSession.ID); err != nil || got.Revoked() {
		t.Errorf("the planted refresh token chose the session to end: %+v, %v", got, err)
	}
}

func TestIdenticalDuplicateCookiesStillWork(t *testing.T) {
	a, b := newTestAppWithUser(t, "twice")
	access, refresh := b.cookie(AccessCookie), b.cookie(RefreshCookie)

	w := a.tossed(httptest.NewRequest(http.MethodGet, "/dashboard", nil), AccessCookie, access, AccessCookie, access)
	if w.Code != http.StatusOK {
		t.Errorf("GET /dashboard with one access token twice: %d", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
	r.Header.Set("Accept", "application/json")
	w = a.tossed(r, RefreshCookie, refresh, RefreshCookie, refresh)
	if w.Code != http.StatusOK || len(authCookiesSet(w, AccessCookie, RefreshCookie)) != 2 {
		t.Errorf("refresh with one refresh token twice: %d, cookies %q", w.Code, authCookiesSet(w, AccessCookie, RefreshCookie))
	}
}

// In production the names carry the cookie prefixes, which the browser
// enforces: __Host- (Secure, Path=/, no Domain) cannot be planted by a
// sibling or under a longer path, __Secure- not over plain HTTP.
func TestProductionCookieNamesCarryPrefixes(t *testing.T) {
	access, refresh := CookieNames(true)
	if access != "__Host-tf_access_token" || refresh != "__Secure-tf_refresh_token" {
		t.Fatalf("production names %q, %q", access, refresh)
	}
	if da, dr := CookieNames(false); da != AccessCookie || dr != RefreshCookie {
		t.Fatalf("development names %q, %q, want %q, %q", da, dr, AccessCookie, RefreshCookie)
	}

	a := newTestApp(t, func(d *testDeps) { d.Settings.Production = true })
	b := a.browser()
	w := b.post("/auth/register", url.Values{"username": {"prod"}, "password": {goodPassword}, "password_confirm": {goodPassword}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("register: %d", w.Code)
	}
	set := map[string]*http.Cookie{}
	for _, c := range w.Result().Cookies() {
		set[c.Name] = c
	}
	if c := set[access]; c == nil || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("access cookie %+v, want __Host-: Secure, Path=/, no Domain, HttpOnly, Lax", c)
	}
	if c := set[refresh]; c == nil || !c.Secure || c.Path != "/auth" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("refresh cookie %+v, want __Secure-: Secure, Path=/auth, no Domain, HttpOnly, Strict", c)
	}
	if set[AccessCookie] != nil || set[RefreshCookie] != nil {
		t.Error("production also set the unprefixed cookies")
	}

	if w := b.get("/dashboard"); w.Code != http.StatusOK {
		t.Errorf("GET /dashboard with the prefixed cookie: %d", w.Code)
	}
	// The unprefixed names are anyone's to plant: production ignores them.
	w = a.tossed(httptest.NewRequest(http.MethodGet, "/dashboard", nil), AccessCookie, b.cookie(access))
	if w.Code != http.StatusSeeOther {
		t.Errorf("GET /dashboard with the token under the unprefixed name: %d, want 303 to login", w.Code)
	}
	w = a.tossed(httptest.NewRequest(http.MethodGet, "/dashboard", nil), access, b.cookie(access), access, "planted.x.y")
	if w.Code != http.StatusSeeOther {
		t.Errorf("GET /dashboard with two prefixed access cookies: %d, want 303 to login", w.Code)
	}
	if w := b.fetchRefresh(); w.Code != http.StatusOK || len(authCookiesSet(w, access, refresh)) != 2 {
		t.Errorf("refresh with the prefixed cookie: %d", w.Code)
	}
	w = b.post("/auth/logout", nil)
	cleared := map[string]*http.Cookie{}
	for _, c := range w.Result().Cookies() {
		cleared[c.Name] = c
	}
	for name, path := range map[string]string{access: "/", refresh: "/auth"} {
		if c := cleared[name]; c == nil || c.MaxAge >= 0 || c.Path != path || !c.Secure || c.Domain != "" {
			t.Errorf("logout did not clear %s with its attributes: %+v", name, c)
		}
	}
}

// A stray access cookie of the same name makes the request ambiguous: it
// is refused like a missing one, not tried after the good one (see
// TestConflictingAccessCookiesGrantNothing for why).
func TestStrayAccessCookieIsAmbiguous(t *testing.T) {
	a, b := newTestAppWithUser(t, "shadowed")
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	r.Header.Set("Cookie", AccessCookie+"=aaa.bbb.ccc; "+AccessCookie+"="+b.cookie(AccessCookie))
	w := httptest.NewRecorder()
	a.e.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login?next=") {
		t.Fatalf("status %d to %q, want 303 to the login page", w.Code, w.Header().Get("Location"))
	}
}
