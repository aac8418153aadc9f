package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"tokenflow/store"
)

func rotateLimited(s store.Store, presented, next string, limit int, c store.Client) (store.Session, error) {
	return s.RotateRefreshToken(context.Background(), store.Rotation{
		PresentedHash: presented, NewHash: next, IdleTTL: idleTTL, Grace: grace, RateLimit: limit, Client: c,
	})
}

// Past RateLimit refreshes of one session in a minute, a refresh writes
// nothing and says when to come back; the session is unharmed.
func (c contract) rotateRefreshTokenRateLimit(t *testing.T) {
	const limit = 3
	now := t0
	s := c.open(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h0")

	// limit refreshes, 100 ms apart, one of them a grace replay: all count.
	token := "h0"
	for i := 1; i <= limit; i++ {
		now = now.Add(100 * time.Millisecond)
		presented := token
		if i == limit {
			presented = fmt.Sprintf("h%d", i-2) // the previous token again, inside its window
		}
		token = fmt.Sprintf("h%d", i)
		if _, err := rotateLimited(s, presented, token, limit, owner); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	eventsBefore := len(eventKinds(t, s, sess.ID))

	now = now.Add(100 * time.Millisecond)
	firstAt := t0.Add(100 * time.Millisecond)
	_, err := rotateLimited(s, token, "over", limit, owner)
	var limited *store.RefreshRateLimitedError
	if !errors.Is(err, store.ErrRefreshRateLimited) || !errors.As(err, &limited) {
		t.Fatalf("refresh %d: %v, want ErrRefreshRateLimited", limit+1, err)
	}
	if want := firstAt.Add(time.Minute).Sub(now); limited.RetryAfter != want {
		t.Errorf("RetryAfter = %v, want %v (when the oldest counted refresh leaves the minute)", limited.RetryAfter, want)
	}
	if !refreshUnknown(t, s, "over") {
		t.Error("a limited refresh stored its new token")
	}
	if refreshUnknown(t, s, token) {
		t.Error("a limited refresh used up the presented token")
	}
	if n := len(eventKinds(t, s, sess.ID)); n != eventsBefore {
		t.Errorf("events went from %d to %d: a limited refresh recorded one", eventsBefore, n)
	}
	if got := mustSessionByID(t, s, sess.ID); !got.Active(now) {
		t.Fatalf("session after the limit: %+v, want it alive", got)
	}

	// A minute after the first counted refresh, the newest token refreshes.
	now = firstAt.Add(time.Minute)
	if _, err := rotateLimited(s, token, "later", limit, owner); err != nil {
		t.Fatalf("refresh a minute later: %v", err)
	}
}

// Reuse is detected even past the limit: a token presented after its
// window is theft whatever the rate.
func (c contract) rotateRefreshTokenRateLimitDoesNotHideReuse(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	if _, err := rotateLimited(s, "h1", "h2", 1, owner); err != nil {
		t.Fatal(err)
	}
	now = now.Add(grace)
	if _, err := rotateLimited(s, "h1", "x", 1, thief); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("replay after the window, over the limit: %v, want ErrRefreshReused", err)
	}
	if got := mustSessionByID(t, s, sess.ID); got.RevokeReason != store.EventReuseDetected {
		t.Fatalf("session = %+v, want revoked for reuse", got)
	}
}
