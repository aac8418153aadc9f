package handlers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"tokenflow/store"
)

// The review's reproduction, through the router: the owner refreshes every
// 12 s (grace 10 s) and a thief replays its just-retired grace sibling after
// each of those refreshes. The first replay after the original window must
// be refused and end the session; before the fix every replay got a 200.
func TestThiefCannotChainGraceWindows(t *testing.T) {
	a := newTestApp(t)
	victim := a.mustRegister(t, "chained", goodPassword)
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
