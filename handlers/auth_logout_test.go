package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"tokenflow/store"
)

// POST /auth/logout with scope=others must not tell a refresh token that is
// still current from one that was rotated: a thief holding a copy would
// otherwise learn when the owner has refreshed, and so when to replay.
func TestLogoutOthersDoesNotRevealWhetherTheTokenIsCurrent(t *testing.T) {
	a, owner := newTestAppWithUser(t, "oracle")
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

// A thief who copied the current refresh token and refreshed first holds
// the session's only live chain; the owner's cookie is now a rotated token.
// When the owner then logs out from a tab whose access token has expired,
// the rotated token is presented again after its grace window: that is
// theft, wherever it shows up (docs/ARCHITECTURE.md), as it is at /auth/refresh. If
// logout only said "You have logged out" and deleted the cookie, the
// thief's chain would live on undetected and the evidence would be gone.
// The answer itself stays the one every logout gets.
func TestLogoutWithATokenRotatedByAThiefDetectsReuse(t *testing.T) {
	for _, scope := range []string{scopeLocal, scopeOthers, scopeGlobal} {
		t.Run(scope, func(t *testing.T) {
			a := newTestApp(t)
			owner := a.mustRegister(t, "robbed", goodPassword)
			phone := a.mustLogin(t, "robbed", goodPassword)
			sess := a.sessionOf(t, owner)

			thief := a.browser()
			thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: owner.cookie(RefreshCookie), Path: "/auth"}
			if w := thief.fetchRefresh(); w.Code != http.StatusOK {
				t.Fatalf("thief's refresh with the copied token: %d", w.Code)
			}
			a.clock.Advance(10 * time.Minute) // the owner's access token has expired, and the grace window passed

			stranger := a.browser()
			stranger.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Path: "/auth"}
			wantCode, wantLocation, wantCookies := logoutAnswer(stranger.post("/auth/logout", url.Values{"scope": {scope}}))

			gotCode, gotLocation, gotCookies := logoutAnswer(owner.post("/auth/logout", url.Values{"scope": {scope}}))
			if gotCode != wantCode || gotLocation != wantLocation || !slices.Equal(gotCookies, wantCookies) {
				t.Errorf("logout with the rotated token: %d %q %q, want the answer of an unknown token: %d %q %q",
					gotCode, gotLocation, gotCookies, wantCode, wantLocation, wantCookies)
			}
			got, err := a.store.Session(context.Background(), sess.ID)
			if err != nil || got.RevokeReason != store.EventReuseDetected {
				t.Errorf("session after the owner's logout with a token the thief rotated: %+v, %v; want it revoked for reuse", got, err)
			}
			if w := thief.fetchRefresh(); w.Code != http.StatusUnauthorized {
				t.Errorf("the thief's chain after the owner's logout: %d, want 401", w.Code)
			}
			if w := phone.fetchRefresh(); w.Code != http.StatusOK {
				t.Errorf("the owner's other session: %d, want it untouched (a rotated token acts on its own session only)", w.Code)
			}
		})
	}
}

// logoutAnswer is what a client can see of a logout answer, apart from the
// request id and the date.
func logoutAnswer(w *httptest.ResponseRecorder) (int, string, []string) {
	cookies := w.Header().Values("Set-Cookie")
	slices.Sort(cookies)
	return w.Code, w.Header().Get("Location"), cookies
}

// A refresh token that no longer names a live session (rotated, or its
// session revoked) must not let its holder log the owner out elsewhere.
func TestLogoutWithAStaleRefreshTokenEndsNothingElse(t *testing.T) {
	for name, afterReuse := range map[string]bool{"rotated token, session alive": false, "token whose session was revoked for reuse": true} {
		t.Run(name, func(t *testing.T) {
			a := newTestApp(t)
			laptop := a.mustRegister(t, "victim", goodPassword)
			phone := a.mustLogin(t, "victim", goodPassword)
			stolen := laptop.cookie(RefreshCookie)
			if w := laptop.fetchRefresh(); w.Code != http.StatusOK {
				t.Fatalf("owner refresh: %d", w.Code)
			}
			thief := a.browser()
			thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: stolen, Path: "/auth"}
			if afterReuse {
				a.clock.Advance(a.settings.RefreshReuseGrace + time.Second)
				if w := thief.fetchRefresh(); w.Code != http.StatusUnauthorized {
					t.Fatalf("replay: %d", w.Code)
				}
				thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: stolen, Path: "/auth"}
			}
			if w := thief.post("/auth/logout", url.Values{"scope": {"global"}}); w.Code != http.StatusSeeOther {
				t.Fatalf("logout: %d", w.Code)
			}
			if w := phone.fetchRefresh(); w.Code != http.StatusOK {
				t.Fatalf("the owner's other session was ended by a stale token: %d", w.Code)
			}
			if !afterReuse {
				if w := laptop.fetchRefresh(); w.Code != http.StatusOK {
					t.Fatalf("the owner's own session was ended by a stale token: %d", w.Code)
				}
			}
		})
	}
}
