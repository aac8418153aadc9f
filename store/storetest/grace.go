package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"tokenflow/store"
)

// The grace window forgives a replay only until the deadline of the
// rotation that forked the session; a retired branch never gets a new one.
// Two parties share one session: the rotator refreshes normally every
// `every`, and the replayer presents its newest token one second after each
// of those rotations (its token was retired by them). The replay must be
// forgiven only before the original fork's deadline, and the first replay
// at or after it must revoke the session.
func (c contract) graceWindowCannotBeChained(t *testing.T) {
	tests := []struct {
		name string
		// siblingRotates: the party holding the grace sibling is the one
		// that rotates normally, and the owner's retired token (the
		// regular successor) is the one that comes back.
		siblingRotates bool
		every          time.Duration
	}{
		{"nok, thief replays its sibling after each owner rotation, 12 s apart", false, 12 * time.Second},
		{"nok, thief replays its sibling after each owner rotation, 3 s apart", false, 3 * time.Second},
		{"nok, thief rotates its sibling, the owner's retired token comes back, 12 s apart", true, 12 * time.Second},
		{"nok, thief rotates its sibling, the owner's retired token comes back, 3 s apart", true, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			s := c.open(t, &now)
			sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")

			now = now.Add(time.Minute)
			forkDeadline := now.Add(grace)
			mustRotate(t, s, "h1", "successor") // the owner rotates; a thief has a copy of h1
			now = now.Add(time.Second)
			if _, err := rotate(s, "h1", "sibling", thief); err != nil {
				t.Fatalf("replay of h1 inside its window: %v", err)
			}
			rotatorToken, replayerToken := "successor", "sibling"
			if tt.siblingRotates {
				rotatorToken, replayerToken = "sibling", "successor"
			}

			for i := 1; i <= 10; i++ {
				now = now.Add(tt.every)
				next := fmt.Sprintf("rotator-%d", i)
				if _, err := rotate(s, rotatorToken, next, owner); err != nil {
					if errors.Is(err, store.ErrSessionRevoked) && now.After(forkDeadline) {
						break // revoked by the replayer's previous attempt, as it must be
					}
					t.Fatalf("rotation %d at +%s: %v", i, now.Sub(t0), err)
				}
				rotatorToken = next

				now = now.Add(time.Second)
				replayed := fmt.Sprintf("replayer-%d", i)
				_, err := rotate(s, replayerToken, replayed, thief)
				if now.Before(forkDeadline) {
					if err != nil {
						t.Fatalf("replay %d before the fork's deadline: %v", i, err)
					}
					replayerToken = replayed
					continue
				}
				if !errors.Is(err, store.ErrRefreshReused) {
					t.Fatalf("replay %d at +%s, after the fork's deadline +%s: error = %v, want ErrRefreshReused",
						i, now.Sub(t0), forkDeadline.Sub(t0), err)
				}
				break
			}
			got := mustSessionByID(t, s, sess.ID)
			if got.RevokeReason != store.EventReuseDetected {
				t.Fatalf("session after ten rotations = %+v, want it revoked for reuse", got)
			}
			if _, err := rotate(s, rotatorToken, "after", owner); !errors.Is(err, store.ErrSessionRevoked) {
				t.Errorf("the rotator's newest token after the revocation: %v, want ErrSessionRevoked", err)
			}
		})
	}
}

// A grace sibling issued near the end of the window gets no window of its
// own once a normal rotation retires it.
func (c contract) retiredSiblingKeepsTheForkDeadline(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	mustRotate(t, s, "h1", "h2") // fork deadline t0+grace
	now = now.Add(grace - time.Millisecond)
	if _, err := rotate(s, "h1", "h2b", owner); err != nil {
		t.Fatalf("replay just inside the window: %v", err)
	}
	mustRotate(t, s, "h2", "h3") // retires h2b
	now = now.Add(time.Millisecond)
	if _, err := rotate(s, "h2b", "h3b", thief); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("retired sibling at the fork's deadline: %v, want ErrRefreshReused", err)
	}
}

// With REFRESH_REUSE_GRACE=0 nothing is forgiven, not even a replay in the
// same millisecond.
func (c contract) zeroGraceIsStrict(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	strict := func(presented, next string) error {
		_, err := s.RotateRefreshToken(context.Background(), store.Rotation{
			PresentedHash: presented, NewHash: next, IdleTTL: idleTTL, Grace: 0, Client: owner,
		})
		return err
	}
	if err := strict("h1", "h2"); err != nil {
		t.Fatal(err)
	}
	if err := strict("h1", "h2b"); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("replay at the same instant with grace 0: %v, want ErrRefreshReused", err)
	}
	if got := mustSessionByID(t, s, sess.ID); got.RevokeReason != store.EventReuseDetected {
		t.Fatalf("session = %+v, want revoked for reuse", got)
	}
}

// DetectRefreshReuse applies the reuse rule to a token presented where it
// is not rotated (logout): a rotated token at or after its grace deadline
// revokes its session; anything else changes nothing.
func (c contract) detectRefreshReuse(t *testing.T) {
	tests := []struct {
		name      string
		presented string
		after     time.Duration // since h1 was rotated into h2
		revokes   bool
	}{
		{"ok, the current token", "h2", time.Hour, false},
		{"ok, a rotated token inside its grace window", "h1", grace - time.Millisecond, false},
		{"ok, an unknown token", "nope", time.Hour, false},
		{"nok, a rotated token at its grace deadline", "h1", grace, true},
		{"nok, a rotated token long after its grace window", "h1", time.Hour - time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			s := c.open(t, &now)
			sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
			mustRotate(t, s, "h1", "h2")
			now = now.Add(tt.after)
			eventsBefore := len(eventKinds(t, s, sess.ID))

			got, err := s.DetectRefreshReuse(context.Background(), tt.presented, owner)
			if !tt.revokes {
				if err != nil {
					t.Fatalf("DetectRefreshReuse: %v, want nil", err)
				}
				if after := mustSessionByID(t, s, sess.ID); after.Revoked() || len(eventKinds(t, s, sess.ID)) != eventsBefore {
					t.Fatalf("session %+v, events %v: want nothing changed", after, eventKinds(t, s, sess.ID))
				}
				return
			}
			if !errors.Is(err, store.ErrRefreshReused) || got.ID != sess.ID || got.RevokeReason != store.EventReuseDetected {
				t.Fatalf("DetectRefreshReuse = %+v, %v; want the session revoked for reuse and store.ErrRefreshReused", got, err)
			}
			if after := mustSessionByID(t, s, sess.ID); after.RevokeReason != store.EventReuseDetected {
				t.Fatalf("session = %+v, want revoked for reuse", after)
			}
			if _, err := rotate(s, "h2", "h3", thief); !errors.Is(err, store.ErrSessionRevoked) {
				t.Errorf("the current token after the reuse: %v, want store.ErrSessionRevoked", err)
			}
			// A second report finds the session already revoked and adds nothing.
			events := len(eventKinds(t, s, sess.ID))
			if _, err := s.DetectRefreshReuse(context.Background(), tt.presented, owner); err != nil {
				t.Errorf("second DetectRefreshReuse: %v, want nil", err)
			}
			if n := len(eventKinds(t, s, sess.ID)); n != events {
				t.Errorf("events went from %d to %d on a revoked session", events, n)
			}
		})
	}
}
