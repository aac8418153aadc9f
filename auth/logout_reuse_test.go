package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The owner's browser logs out with a refresh token a thief already
// rotated: the public DetectReuse (what the logout handler calls) must
// revoke the session the thief holds, say so with *RefreshReusedError, and
// count the revocation as reuse, not as a logout. Inside the grace window,
// or for a token that names nothing, it changes nothing.
func TestDetectReuseAtLogout(t *testing.T) {
	ctx := context.Background()
	obs := &countingObserver{}
	f := newFixture(t, func(d *Deps) { d.Observer = obs })
	owner := f.register(t, "ada")
	thief, err := f.svc.Refresh(ctx, owner.RefreshToken, client)
	if err != nil {
		t.Fatal(err)
	}

	for _, junk := range []string{"", "garbage", owner.RefreshToken[1:]} {
		if err := f.svc.DetectReuse(ctx, junk, client); err != nil {
			t.Errorf("DetectReuse(%q) = %v, want nil: it names no token", junk, err)
		}
	}
	if err := f.svc.DetectReuse(ctx, owner.RefreshToken, client); err != nil {
		t.Fatalf("inside the grace window: %v, want nil", err)
	}
	newest, err := f.svc.Refresh(ctx, thief.RefreshToken, client)
	if err != nil {
		t.Fatalf("the session ended before the grace window closed: %v", err)
	}

	f.clock.Advance(grace)
	var reused *RefreshReusedError
	if err := f.svc.DetectReuse(ctx, owner.RefreshToken, client); !errors.As(err, &reused) || reused.SessionID != owner.Session.ID {
		t.Fatalf("after the grace window: %v, want *RefreshReusedError for %s", err, owner.Session.ID)
	}
	if _, err := f.svc.Refresh(ctx, newest.RefreshToken, client); !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("the thief's newest token after detection: %v, want ErrSessionRevoked", err)
	}
	if got := obs.snapshot(); got["revoked reuse_detected"] != 1 || got["revoked logout"] != 0 {
		t.Errorf("observed %v, want one revocation for reuse and none for logout", got)
	}
	f.clock.Advance(time.Second)
	if err := f.svc.DetectReuse(ctx, owner.RefreshToken, client); err != nil {
		t.Errorf("presented again after the revocation: %v, want nil (judge sees a revoked session)", err)
	}
}
