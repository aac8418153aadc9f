package handlers

import (
	"net/http"
	"strings"
	"testing"

	"tokenflow/tokens"
)

func TestDevExpireAccess(t *testing.T) {
	app := newTestApp(t)
	b := app.mustRegister(t, "ada", "correct horse battery")
	before := app.sessionOf(t, b)
	refreshBefore := b.cookie(RefreshCookie)

	w := b.post("/dev/expire-access", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/dashboard" {
		t.Fatalf("POST /dev/expire-access: status %d, Location %q; want 303 to /dashboard", w.Code, w.Header().Get("Location"))
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var set *http.Cookie
	for _, c := range w.Result().Cookies() {
		switch c.Name {
		case AccessCookie:
			set = c
		case RefreshCookie:
			t.Error("the refresh cookie was touched; it must survive to do the refresh")
		}
	}
	if set == nil {
		t.Fatal("no access cookie set")
	}
	if set.Path != "/" || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || !set.Expires.Equal(before.ExpiresAt().Truncate(1e9)) {
		t.Errorf("access cookie attributes %+v differ from setAuthCookies'", set)
	}
	_, err := app.tokens.Verify(b.cookie(AccessCookie))
	if !tokens.Expired(err) {
		t.Fatalf("new access token: %v, want expired", err)
	}
	if b.cookie(RefreshCookie) != refreshBefore {
		t.Error("refresh cookie changed")
	}

	w = b.get("/dashboard")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `data-testid="interstitial"`) {
		t.Fatalf("GET /dashboard after expiring: status %d, want 401 with the interstitial", w.Code)
	}

	// What the interstitial's script does next.
	if w := b.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("refresh: status %d", w.Code)
	}
	if w := b.get("/dashboard"); w.Code != http.StatusOK {
		t.Fatalf("GET /dashboard after refresh: status %d", w.Code)
	}
	if got := app.sessionOf(t, b); got.ID != before.ID {
		t.Errorf("session %s after refresh, want the same session %s", got.ID, before.ID)
	}
}

func TestDevExpireAccessNeedsLogin(t *testing.T) {
	app := newTestApp(t)
	w := app.browser().post("/dev/expire-access", nil)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login") {
		t.Fatalf("anonymous POST: status %d, Location %q; want 303 to the login page", w.Code, w.Header().Get("Location"))
	}
}

func TestDevExpireAccessAbsentInProduction(t *testing.T) {
	app := newTestApp(t, func(d *testDeps) { d.Settings.Production = true })
	b := app.mustRegister(t, "ada", "correct horse battery")
	access := b.cookie(AccessCookie)

	for _, method := range []string{http.MethodPost, http.MethodGet} {
		var w interface{ Result() *http.Response }
		if method == http.MethodPost {
			w = b.post("/dev/expire-access", nil)
		} else {
			w = b.get("/dev/expire-access")
		}
		if code := w.Result().StatusCode; code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
			t.Errorf("%s /dev/expire-access in production: status %d, want 404 or 405", method, code)
		}
	}
	if b.cookie(AccessCookie) != access {
		t.Error("the access cookie changed in production")
	}
	w := b.get("/dashboard")
	if w.Code != http.StatusOK {
		t.Fatalf("dashboard: status %d", w.Code)
	}
	if strings.Contains(w.Body.String(), "/dev/expire-access") {
		t.Error("production dashboard shows the development button")
	}
}
