package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/tokens"
)

// The review's reproduction, through the router: the owner refreshes every
// 12 s (grace 10 s) and a thief replays its just-retired grace sibling after
// each of those refreshes. The first replay after the original window must
// be refused and end the session; before the fix every replay got a 200.
func TestThiefCannotChainGraceWindows(t *testing.T) {
	a, victim := newTestAppWithUser(t, "chained")
	sess := a.sessionOf(t, victim)
	thief := a.browser()
	thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: victim.cookie(RefreshCookie), Path: "/auth"}

	if w := victim.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("owner's first refresh: %d", w.Code)
	}
	windowEnd := a.clock.Now().Add(a.settings.RefreshReuseGrace)
	a.clock.Advance(time.Second)
	if w := thief.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("thief's replay inside the window: %d, want 200 (a second tab looks the same)", w.Code)
	}
	// Every owner refresh is 12 s after the last, so every replay below
	// comes after the original window: the first one must end the session.
	a.clock.Advance(12 * time.Second)
	if w := victim.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("owner's second refresh: %d", w.Code)
	}
	a.clock.Advance(time.Second)
	if w := thief.fetchRefresh(); w.Code != http.StatusUnauthorized {
		t.Fatalf("thief's replay %s after the original window closed: %d, want 401",
			a.clock.Now().Sub(windowEnd), w.Code)
	}
	got, err := a.store.Session(context.Background(), sess.ID)
	if err != nil || got.RevokeReason != store.EventReuseDetected {
		t.Fatalf("session = %+v, %v; want revoked for reuse", got, err)
	}
	if w := victim.fetchRefresh(); w.Code != http.StatusUnauthorized {
		t.Fatalf("owner's refresh after the reuse: %d, want 401", w.Code)
	}
}

// failingSigner is the real token manager whose Issue can be made to fail.
type failingSigner struct {
	testTokens
	fail bool
}

func (f *failingSigner) Issue(userID, username, sessionID string) (string, tokens.Claims, error) {
	if f.fail {
		return "", tokens.Claims{}, errors.New("signing key unavailable")
	}
	return f.testTokens.Issue(userID, username, sessionID)
}

// A refresh is one unit: when the access token cannot be signed, the
// rotation must not have happened, or the client (which never received the
// new refresh token) would end its own session at its next refresh, once
// the grace window has passed.
func TestRefreshThatCannotSignRotatesNothing(t *testing.T) {
	signer := &failingSigner{}
	a := newTestApp(t, func(d *testDeps) {
		signer.testTokens = d.Tokens
		d.Tokens = signer
	})
	b := a.mustRegister(t, "unsigned", goodPassword)
	sess := a.sessionOf(t, b)
	held := b.cookie(RefreshCookie)

	signer.fail = true
	w := b.fetchRefresh()
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("refresh with a failing signer: %d, want 500", w.Code)
	}
	if b.cookie(RefreshCookie) != held {
		t.Fatal("the failed refresh replaced the refresh cookie")
	}
	if kinds := eventKindsOf(t, a, sess.ID); !slices.Equal(kinds, []string{store.EventLogin}) {
		t.Errorf("events after the failed refresh = %v, want only the login", kinds)
	}

	signer.fail = false
	a.clock.Advance(a.settings.RefreshReuseGrace + time.Second)
	if w := b.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("the kept refresh token after the window: %d, want 200", w.Code)
	}
	if got, err := a.store.Session(context.Background(), sess.ID); err != nil || got.Revoked() {
		t.Fatalf("session = %+v, %v; want it alive", got, err)
	}
}

func eventKindsOf(t *testing.T, a *testApp, sessionID string) []string {
	t.Helper()
	events, err := a.store.SessionEvents(context.Background(), sessionID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

// One session may refresh RefreshRateLimit times a minute. Past that the
// refresh is refused with 429 and Retry-After, and nothing else happens: no
// cookie cleared, no token rotated, the session alive.
func TestRefreshRateLimitPerSession(t *testing.T) {
	for name, asJSON := range map[string]bool{"fetch": true, "form post": false} {
		t.Run(name, func(t *testing.T) {
			a := newTestApp(t)
			limit := a.settings.RefreshRateLimit
			b := a.mustRegister(t, "eager", goodPassword)
			sess := a.sessionOf(t, b)
			for i := 1; i <= limit; i++ {
				a.clock.Advance(10 * time.Millisecond)
				if w := b.fetchRefresh(); w.Code != http.StatusOK {
					t.Fatalf("refresh %d of %d: %d", i, limit, w.Code)
				}
			}
			held := b.cookie(RefreshCookie)

			a.clock.Advance(10 * time.Millisecond)
			var w *httptest.ResponseRecorder
			if asJSON {
				w = b.fetchRefresh()
			} else {
				w = b.post("/auth/refresh", url.Values{"next": {"/sessions"}})
			}
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("refresh %d: %d, want 429", limit+1, w.Code)
			}
			retry, err := strconv.Atoi(w.Header().Get("Retry-After"))
			if err != nil || retry < 1 || retry > 60 {
				t.Errorf("Retry-After = %q, want 1 to 60 seconds", w.Header().Get("Retry-After"))
			}
			if isJSON := strings.HasPrefix(w.Header().Get("Content-Type"), "application/json"); isJSON != asJSON {
				t.Errorf("Content-Type %q for json=%v", w.Header().Get("Content-Type"), asJSON)
			}
			if cookies := w.Header().Values("Set-Cookie"); len(cookies) != 0 {
				t.Errorf("a limited refresh set cookies: %q", cookies)
			}
			if b.cookie(RefreshCookie) != held {
				t.Fatal("the refresh cookie changed")
			}
			if got, err := a.store.Session(context.Background(), sess.ID); err != nil || got.Revoked() {
				t.Fatalf("session = %+v, %v; want it alive", got, err)
			}

			a.clock.Advance(time.Minute)
			if w := b.fetchRefresh(); w.Code != http.StatusOK {
				t.Fatalf("refresh a minute later with the newest token: %d, want 200", w.Code)
			}
		})
	}
}
