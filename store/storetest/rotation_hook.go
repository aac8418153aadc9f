package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"tokenflow/store"
)

// BeforeCommit sees the rotated session and its user inside the
// transaction; when it fails, nothing of the rotation is kept.
func (c contract) rotateRefreshTokenBeforeCommit(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	alice := mustUser(t, s, "alice")
	sess := mustSession(t, s, alice.ID, "h1")
	now = now.Add(time.Minute)

	signing := errors.New("signing failed")
	var seenSession store.Session
	var seenUser store.User
	_, err := s.RotateRefreshToken(context.Background(), store.Rotation{
		PresentedHash: "h1", NewHash: "h2", IdleTTL: idleTTL, Grace: grace, Client: owner,
		BeforeCommit: func(rs store.Session, u store.User) error {
			seenSession, seenUser = rs, u
			return signing
		},
	})
	if !errors.Is(err, signing) {
		t.Fatalf("error = %v, want the hook's error", err)
	}
	if seenUser != alice || seenSession.ID != sess.ID || !seenSession.LastUsedAt.Equal(now) {
		t.Errorf("hook saw %+v and %+v, want alice and the rotated session", seenUser, seenSession)
	}
	if got := mustSessionByID(t, s, sess.ID); got != sess {
		t.Errorf("session after the failed hook = %+v, want it unchanged %+v", got, sess)
	}
	if !refreshUnknown(t, s, "h2") {
		t.Error("the new token was kept")
	}
	if kinds := eventKinds(t, s, sess.ID); len(kinds) != 1 {
		t.Errorf("events = %v, want only the login", kinds)
	}

	// Much later, h1 is still the current token, not a rotated one.
	now = now.Add(time.Hour - time.Minute - time.Second)
	if _, err := rotate(s, "h1", "h2", owner); err != nil {
		t.Fatalf("h1 after the failed hook: %v", err)
	}
}
