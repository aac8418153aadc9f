package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// POST /auth/logout with scope=others must not tell a refresh token that is
// still current from one that was rotated: a thief holding a copy would
// otherwise learn when the owner has refreshed, and so when to replay.
func TestLogoutOthersDoesNotRevealWhetherTheTokenIsCurrent(t *testing.T) {
	a := newTestApp(t)
	owner := a.mustRegister(t, "oracle", goodPassword)
	rotated := owner.cookie(RefreshCookie)
	if w := owner.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("refresh: %d", w.Code)
	}
	current := owner.cookie(RefreshCookie)

	answer := func(refresh string) (int, string, []string) {
		thief := a.browser()
		thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: refresh, Path: "/auth"}
		w := thief.post("/auth/logout", url.Values{"scope": {scopeOthers}})
		cookies := w.Header().Values("Set-Cookie")
		slices.Sort(cookies)
		return w.Code, w.Header().Get("Location"), cookies
	}
	usedCode, usedLocation, usedCookies := answer(rotated)
	liveCode, liveLocation, liveCookies := answer(current)
	if usedCode != liveCode || usedLocation != liveLocation || !slices.Equal(usedCookies, liveCookies) {
		t.Fatalf("answers differ:\n rotated token: %d %q %q\n current token: %d %q %q",
			usedCode, usedLocation, usedCookies, liveCode, liveLocation, liveCookies)
	}
	if liveCode != http.StatusSeeOther || liveLocation != "/sessions" {
		t.Errorf("scope=others: %d %q, want 303 to /sessions", liveCode, liveLocation)
	}
	if w := owner.fetchRefresh(); w.Code != http.StatusOK {
		t.Errorf("the owner's own session was ended: %d", w.Code)
	}
}
