package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A refresh token that no longer names a live session (rotated, or its
// session revoked) must not let its holder log the owner out elsewhere.
func TestLogoutWithAStaleRefreshTokenEndsNothingElse(t *testing.T) {
	for _, afterReuse := range []bool{false, true} {
		name := "rotated token, session alive"
		if afterReuse {
			name = "token whose session was revoked for reuse"
		}
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

// A stray access cookie of the same name makes the request ambiguous: it
// is refused like a missing one, not tried after the good one (see
// TestConflictingAccessCookiesGrantNothing for why).
func TestStrayAccessCookieIsAmbiguous(t *testing.T) {
	a := newTestApp(t)
	b := a.mustRegister(t, "shadowed", goodPassword)
	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	r.Header.Set("Cookie", AccessCookie+"=aaa.bbb.ccc; "+AccessCookie+"="+b.cookie(AccessCookie))
	w := httptest.NewRecorder()
	a.e.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login?next=") {
		t.Fatalf("status %d to %q, want 303 to the login page", w.Code, w.Header().Get("Location"))
	}
}

// The inspector shows the token the guard accepted, not merely the cookie.
func TestInspectorShowsTheAcceptedToken(t *testing.T) {
	a := newTestApp(t)
	b := a.mustRegister(t, "inspect", goodPassword)
	expired := b.cookie(AccessCookie)
	a.clock.Advance(6 * time.Minute)
	b.fetchRefresh()
	fresh := b.cookie(AccessCookie)

	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	r.AddCookie(&http.Cookie{Name: AccessCookie, Value: expired})
	r.Header.Set("Authorization", "Bearer "+fresh)
	w := httptest.NewRecorder()
	a.e.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	// The inspector shows the start of the signature (inspectToken).
	preview := func(tok string) string { return tok[strings.LastIndex(tok, ".")+1:][:signaturePreviewLength] }
	if !strings.Contains(w.Body.String(), preview(fresh)) || strings.Contains(w.Body.String(), preview(expired)) {
		t.Fatal("the inspector does not show the token that was accepted")
	}
}
