package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// An access token outlives its session by up to its lifetime. On routes
// that change state, or that list and manage the user's other sessions,
// such a token must count as no credential at all.
func TestEndedSessionTokenCannotActOnOtherSessions(t *testing.T) {
	a, sessionA, sessionB := twoSessions(t, "ended")
	idB := a.sessionOf(t, sessionB).ID
	stolenAccess := sessionA.cookie(AccessCookie) // e.g. copied before the logout

	if w := sessionA.post("/auth/logout", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("logout of A: %d", w.Code)
	}
	withA := a.browser()
	withA.cookies[AccessCookie] = &http.Cookie{Name: AccessCookie, Value: stolenAccess, Path: "/"}

	w := withA.post("/sessions/"+idB+"/revoke", nil)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login?next=") {
		t.Errorf("revoking B with A's token: %d %q, want 303 to the login page", w.Code, w.Header().Get("Location"))
	}
	if w := sessionB.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("session B after A's token tried to revoke it: %d, want it alive", w.Code)
	}
	if w := withA.get("/sessions"); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login?next=") {
		t.Errorf("GET /sessions with A's token: %d %q, want 303 to the login page", w.Code, w.Header().Get("Location"))
	}

	// As JSON the same refusal reads like a request without a token: 401
	// with the plain challenge, so a script does not try a refresh.
	r := httptest.NewRequest(http.MethodPost, "/sessions/"+idB+"/revoke", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Authorization", "Bearer "+stolenAccess)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	jw := httptest.NewRecorder()
	a.e.ServeHTTP(jw, r)
	if jw.Code != http.StatusUnauthorized || jw.Header().Get("WWW-Authenticate") != `Bearer realm="tokenflow"` ||
		!strings.HasPrefix(jw.Header().Get("Content-Type"), "application/json") {
		t.Errorf("JSON revoke with A's token: %d %q %q", jw.Code, jw.Header().Get("WWW-Authenticate"), jw.Header().Get("Content-Type"))
	}

	// Pure-token reads stay stateless (README, Security): they show the
	// token's own claims and need no store.
	if w := withA.get("/api/me"); w.Code != http.StatusOK {
		t.Errorf("/api/me with A's token: %d, want 200 (stateless by design)", w.Code)
	}
}

// Every unsafe route outside /auth/ sits behind the guard; each must also
// refuse the token of an ended session and change nothing. Walking the
// router catches a route added later without the check.
func TestEveryUnsafeGuardedRouteNeedsALiveSession(t *testing.T) {
	a, sessionA, sessionB := twoSessions(t, "walker")
	idB := a.sessionOf(t, sessionB).ID
	stolenAccess := sessionA.cookie(AccessCookie)
	if w := sessionA.post("/auth/logout", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("logout of A: %d", w.Code)
	}

	checked := 0
	for _, rt := range a.e.Routes() {
		switch rt.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			continue
		}
		if strings.HasPrefix(rt.Path, "/auth/") {
			continue // login, refresh and logout take no access token
		}
		if rt.Path == "/lab/verify" {
			continue // takes a lab token in its body, no credential, and changes nothing
		}
		checked++
		path := strings.NewReplacer(":id", idB).Replace(rt.Path)
		withA := a.browser()
		withA.cookies[AccessCookie] = &http.Cookie{Name: AccessCookie, Value: stolenAccess, Path: "/"}
		r := httptest.NewRequest(rt.Method, path, strings.NewReader(url.Values{}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		w := withA.do(r)
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login?next=") {
			t.Errorf("%s %s with an ended session's token: %d %q, want 303 to the login page",
				rt.Method, rt.Path, w.Code, w.Header().Get("Location"))
		}
		if cookies := w.Header().Values("Set-Cookie"); len(cookies) != 0 {
			t.Errorf("%s %s set cookies for an ended session: %q", rt.Method, rt.Path, cookies)
		}
	}
	if checked < 2 {
		t.Fatalf("only %d unsafe routes found; the walk is broken", checked)
	}
	if w := sessionB.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("session B: %d, want it alive", w.Code)
	}
}

// The dashboard reads what the token says without a store lookup, but its
// timeline and session expiry come from the store: session data, like the
// sessions page. An ended session's token must not read them. Revoking a
// session records the revoker's address and device on the revoked
// session's timeline, so without the check a thief holding a copied access
// token would see, after being cut off, where the owner is now.
func TestEndedSessionTokenSeesNoSessionData(t *testing.T) {
	a, laptop, phone := twoSessions(t, "revoker")
	idLaptop := a.sessionOf(t, laptop).ID
	copied := laptop.cookie(AccessCookie) // the thief's copy

	r := httptest.NewRequest(http.MethodPost, "/sessions/"+idLaptop+"/revoke", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.RemoteAddr = "198.51.100.77:4444"
	r.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/605.1")
	if w := phone.do(r); w.Code != http.StatusSeeOther {
		t.Fatalf("revoking the laptop's session from the phone: %d", w.Code)
	}

	thief := a.browser()
	thief.cookies[AccessCookie] = &http.Cookie{Name: AccessCookie, Value: copied, Path: "/"}
	w := thief.get("/dashboard")
	body := w.Body.String()
	for _, leak := range []string{"198.51.100.77", "iPhone", "Revoked from another session", `class="event`} {
		if strings.Contains(body, leak) {
			t.Errorf("GET /dashboard with the ended session's token shows %q (status %d)", leak, w.Code)
		}
	}
	if strings.Contains(body, `data-testid="session-expires">`+"2026") {
		t.Error("GET /dashboard with the ended session's token shows the session's expiry")
	}

	// The live session still sees its own timeline.
	if w := phone.get("/dashboard"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `data-testid="timeline"`) {
		t.Errorf("GET /dashboard of the live session: %d, timeline shown: %v", w.Code, strings.Contains(w.Body.String(), `data-testid="timeline"`))
	}
}

// twoSessions registers username and logs in again: one user, two live
// sessions, the first of which a test ends.
func twoSessions(t *testing.T, username string) (a *testApp, first, second *browser) {
	t.Helper()
	a = newTestApp(t)
	return a, a.mustRegister(t, username, goodPassword), a.mustLogin(t, username, goodPassword)
}
