package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
)

func TestRefreshForFetchRotatesAndAnswersJSON(t *testing.T) {
	a, b := newTestAppWithUser(t, "ivan")
	oldAccess, oldRefresh := b.cookie(AccessCookie), b.cookie(RefreshCookie)
	a.clock.Advance(6 * time.Minute) // access token expired

	w := b.fetchRefresh()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d body %s", w.Code, w.Body.String())
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 2 {
		t.Fatalf("body %s: %v", w.Body.String(), err)
	}
	accessExp, err1 := time.Parse(time.RFC3339, body["access_expires_at"])
	refreshExp, err2 := time.Parse(time.RFC3339, body["refresh_expires_at"])
	if err1 != nil || err2 != nil {
		t.Fatalf("times are not RFC 3339: %v %v", err1, err2)
	}
	if want := a.clock.Now().Add(5 * time.Minute); !accessExp.Equal(want) {
		t.Errorf("access_expires_at %v, want %v", accessExp, want)
	}
	if want := a.clock.Now().Add(a.settings.RefreshTokenTTL); !refreshExp.Equal(want) {
		t.Errorf("refresh_expires_at %v, want %v (idle expiry slid)", refreshExp, want)
	}
	if b.cookie(AccessCookie) == oldAccess || b.cookie(RefreshCookie) == oldRefresh {
		t.Fatal("cookies were not rotated")
	}
	if strings.Contains(w.Body.String(), b.cookie(RefreshCookie)) || strings.Contains(w.Body.String(), b.cookie(AccessCookie)) {
		t.Fatal("a token is in the body")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("refresh answer is cacheable")
	}
	if page := b.get("/dashboard"); page.Code != http.StatusOK {
		t.Fatalf("dashboard after refresh: %d", page.Code)
	}
}

func TestRefreshFormPostRedirectsToSafeNext(t *testing.T) {
	_, b := newTestAppWithUser(t, "judy")
	for next, want := range map[string]string{"/sessions?a=b": "/sessions?a=b", "//evil.example": "/dashboard", "": "/dashboard"} {
		w := b.post("/auth/refresh", url.Values{"next": {next}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("next %q: status %d location %q, want %q", next, w.Code, w.Header().Get("Location"), want)
		}
	}
}

func TestRefreshFailuresAre401AndClearCookies(t *testing.T) {
	a := newTestApp(t)
	tests := []struct {
		name   string
		cookie string // "" = no refresh cookie
	}{
		{"nok, no refresh cookie", ""},
		{"nok, malformed token", "not-a-token"},
		{"nok, unknown token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"nok, invalid UTF-8", "\xff\xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, asJSON := range []bool{true, false} {
				b := a.browser()
				if tt.cookie != "" {
					b.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: tt.cookie, Path: "/auth"}
				}
				var w *httptest.ResponseRecorder
				if asJSON {
					w = b.fetchRefresh()
				} else {
					w = b.post("/auth/refresh", url.Values{"next": {"/sessions"}})
				}
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("json=%v: status %d, want 401", asJSON, w.Code)
				}
				if asJSON && !strings.Contains(w.Header().Get("Content-Type"), "application/json") {
					t.Errorf("fetch got %q", w.Header().Get("Content-Type"))
				}
				if !asJSON && !strings.Contains(w.Body.String(), `name="next" value="/sessions"`) {
					t.Error("form post failure does not show the login form with next")
				}
				cleared := 0
				for _, c := range w.Result().Cookies() {
					if (c.Name == AccessCookie || c.Name == RefreshCookie) && c.MaxAge < 0 {
						cleared++
					}
				}
				if cleared != 2 {
					t.Errorf("json=%v: %d of 2 cookies cleared", asJSON, cleared)
				}
			}
		})
	}
}

func TestRefreshReuseAfterGraceRevokesTheSession(t *testing.T) {
	a, b := newTestAppWithUser(t, "mallory-victim")
	stolen := b.cookie(RefreshCookie)
	sess := a.sessionOf(t, b)

	if w := b.fetchRefresh(); w.Code != http.StatusOK { // the user rotates
		t.Fatalf("first refresh: %d", w.Code)
	}
	a.clock.Advance(a.settings.RefreshReuseGrace + time.Second)

	thief := a.browser()
	thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: stolen, Path: "/auth"}
	if w := thief.fetchRefresh(); w.Code != http.StatusUnauthorized {
		t.Fatalf("replayed token: %d, want 401", w.Code)
	}
	got, err := a.store.Session(context.Background(), sess.ID)
	if err != nil || got.RevokeReason != store.EventReuseDetected {
		t.Fatalf("session after reuse: %+v %v", got, err)
	}
	events, _ := a.store.SessionEvents(context.Background(), sess.ID, 0)
	if len(events) == 0 || events[0].Kind != store.EventReuseDetected || events[0].IP == "" || events[0].UserAgent == "" {
		t.Fatalf("reuse event not recorded with IP and user agent: %+v", events)
	}

	// The legitimate user's next refresh fails, and the login page says why.
	w := b.fetchRefresh()
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("user's refresh after reuse: %d", w.Code)
	}
	login := b.get("/auth/login")
	if !strings.Contains(login.Body.String(), "For your security a session was ended") {
		t.Fatal("the login page does not tell the user about the security logout")
	}
	if again := b.get("/auth/login"); strings.Contains(again.Body.String(), "For your security") {
		t.Error("the notice is shown more than once")
	}
}

func TestRefreshWithinGraceKeepsTheSession(t *testing.T) {
	a, b := newTestAppWithUser(t, "two-tabs")
	tab2 := a.browser()
	tab2.cookies[RefreshCookie] = b.cookies[RefreshCookie] // both tabs hold the same token

	if w := b.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("tab 1: %d", w.Code)
	}
	a.clock.Advance(a.settings.RefreshReuseGrace / 2)
	if w := tab2.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("tab 2 within the grace window: %d", w.Code)
	}
	if w := b.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("tab 1 again: %d", w.Code)
	}
	if s := a.sessionOf(t, b); s.Revoked() {
		t.Fatal("session revoked")
	}
}

func TestParallelRefreshesWithOneTokenAllSucceed(t *testing.T) {
	a, b := newTestAppWithUser(t, "parallel")
	token := b.cookie(RefreshCookie)
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
			r.Header.Set("Accept", "application/json")
			r.AddCookie(&http.Cookie{Name: RefreshCookie, Value: token})
			w := httptest.NewRecorder()
			a.e.ServeHTTP(w, r)
			codes[i] = w.Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("refresh %d: %d", i, c)
		}
	}
	if s := a.sessionOf(t, b); s.Revoked() {
		t.Fatal("parallel refreshes revoked the session")
	}
}

func TestRefreshStopsAtIdleExpiryAndMaxAge(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		a := newTestApp(t)
		b := a.mustRegister(t, "idle", goodPassword)
		a.clock.Advance(a.settings.RefreshTokenTTL + time.Second)
		if w := b.fetchRefresh(); w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", w.Code)
		}
	})
	t.Run("max age, however often refreshed", func(t *testing.T) {
		a := newTestApp(t)
		b := a.mustRegister(t, "busy", goodPassword)
		step := a.settings.RefreshTokenTTL / 2
		for elapsed := time.Duration(0); elapsed+step < a.settings.SessionMaxAge; elapsed += step {
			a.clock.Advance(step)
			if w := b.fetchRefresh(); w.Code != http.StatusOK {
				t.Fatalf("refresh at %v: %d", elapsed+step, w.Code)
			}
		}
		a.clock.Advance(step)
		if w := b.fetchRefresh(); w.Code != http.StatusUnauthorized {
			t.Fatalf("refresh past SESSION_MAX_AGE: %d, want 401", w.Code)
		}
	})
}

func TestLogoutScopes(t *testing.T) {
	a := newTestApp(t)
	a.mustRegister(t, "kim", goodPassword)
	other := a.mustRegister(t, "lee", goodPassword)
	tests := []struct {
		scope        string
		wantLocation string
		current      bool // current session still alive
		others       bool // other sessions still alive
	}{
		{"local", "/auth/login", false, true},
		{"others", "/sessions", true, false},
		{"global", "/auth/login", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			phone := a.mustLogin(t, "kim", goodPassword)
			laptop := a.mustLogin(t, "kim", goodPassword)
			me := a.mustLogin(t, "kim", goodPassword)
			w := me.post("/auth/logout", url.Values{"scope": {tt.scope}})
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tt.wantLocation {
				t.Fatalf("status %d location %q", w.Code, w.Header().Get("Location"))
			}
			if got := me.fetchRefresh().Code == http.StatusOK; got != tt.current {
				t.Errorf("current session alive = %v, want %v", got, tt.current)
			}
			for _, dev := range []*browser{phone, laptop} {
				if got := dev.fetchRefresh().Code == http.StatusOK; got != tt.others {
					t.Errorf("other session alive = %v, want %v", got, tt.others)
				}
			}
			if other.fetchRefresh().Code != http.StatusOK {
				t.Error("another user's session was touched")
			}
		})
	}
	if w := a.browser().post("/auth/logout", url.Values{"scope": {"everything"}}); w.Code != http.StatusBadRequest {
		t.Errorf("unknown scope: %d, want 400", w.Code)
	}
	if w := a.browser().post("/auth/logout", nil); w.Code != http.StatusSeeOther {
		t.Errorf("logout without a session: %d, want 303", w.Code)
	}
}

func TestSessionsPageListsAndRevokes(t *testing.T) {
	a, phone := newTestAppWithUser(t, "nina")
	r := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(url.Values{"username": {"nina"}, "password": {goodPassword}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Chrome/140.0 Safari/537.36")
	laptop := a.browser()
	laptop.do(r)
	stranger := a.mustRegister(t, "oscar", goodPassword)

	page := laptop.get("/sessions")
	body := page.Body.String()
	if page.Code != http.StatusOK || strings.Count(body, "data-session=") != 2 {
		t.Fatalf("status %d, sessions listed: %d", page.Code, strings.Count(body, "data-session="))
	}
	if !strings.Contains(body, "Firefox on Linux") || !strings.Contains(body, "Chrome on macOS") || strings.Count(body, `data-testid="current-session"`) != 1 {
		t.Errorf("devices or current marker missing:\n%s", body)
	}
	phoneSession := a.sessionOf(t, phone)

	if w := stranger.post("/sessions/"+phoneSession.ID+"/revoke", nil); w.Code != http.StatusNotFound {
		t.Fatalf("revoking someone else's session: %d, want 404", w.Code)
	}
	if w := laptop.post("/sessions/"+phoneSession.ID+"/revoke", nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/sessions" {
		t.Fatalf("revoke: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := phone.fetchRefresh(); w.Code != http.StatusUnauthorized {
		t.Fatalf("revoked session refreshed: %d", w.Code)
	}
	if strings.Count(laptop.get("/sessions").Body.String(), "data-session=") != 1 {
		t.Error("the revoked session is still listed")
	}
	laptopSession := a.sessionOf(t, laptop)
	w := laptop.post("/sessions/"+laptopSession.ID+"/revoke", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/auth/login" || laptop.cookie(AccessCookie) != "" {
		t.Fatalf("revoking the current session should log out: %d %q", w.Code, w.Header().Get("Location"))
	}
}

func TestDashboardShowsTimelineAndInspector(t *testing.T) {
	_, b := newTestAppWithUser(t, "pat")
	b.fetchRefresh()
	body := b.get("/dashboard").Body.String()
	for _, want := range []string{"Logged in", "Refreshed: refresh token rotated", `class="jwt-header"`, `class="jwt-payload"`, `class="jwt-signature"`,
		"<code>iss</code>", "<code>sub</code>", "<code>aud</code>", "<code>exp</code>", "<code>iat</code>", "<code>jti</code>", "<code>sid</code>"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
}
