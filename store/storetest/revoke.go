package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"tokenflow/store"
)

// The primitives auth's revocation runs on. Whose session may be ended and
// what an ended one means is auth's (auth/revoke.go); these only read and
// write.

// SessionForUpdate finds a session whatever its state or user, and names
// an unknown one ErrNotFound.
func (c contract) sessionForUpdate(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	find := func(id string) (got store.Session, err error) {
		err = s.InTx(ctx, func(tx store.Tx) (err error) {
			got, err = tx.SessionForUpdate(ctx, id)
			return err
		})
		return got, err
	}
	if got, err := find(sess.ID); err != nil || got != sess {
		t.Errorf("live session = %+v, %v; want %+v", got, err, sess)
	}
	now = now.Add(time.Minute)
	Revoke(t, s, sess.ID, store.EventLogout)
	if got, err := find(sess.ID); err != nil || got.RevokeReason != store.EventLogout || !got.RevokedAt.Equal(now) {
		t.Errorf("revoked session = %+v, %v; want it revoked by logout at %v", got, err, now)
	}
	if _, err := find("nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}
}

// Tx.RevokeSession ends the session at the time given for the reason, and
// nothing else: its tokens stay current (a refresh then finds a revoked
// session), no event is written, other sessions are left alone.
func (c contract) txRevokeSession(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	sess := mustSession(t, s, alice.ID, "h1")
	other := mustSession(t, s, alice.ID, "elsewhere")
	now = now.Add(time.Minute)
	inTx(t, s, func(tx store.Tx) error {
		return tx.RevokeSession(ctx, sess.ID, store.EventRevoked, tx.Now().Add(time.Second))
	})
	got := mustSessionByID(t, s, sess.ID)
	want := sess
	want.RevokedAt, want.RevokeReason = now.Add(time.Second), store.EventRevoked
	if got != want {
		t.Errorf("session =\n%+v, want\n%+v", got, want)
	}
	if byHash, err := s.SessionByRefreshHash(ctx, "h1"); err != nil || byHash != want {
		t.Errorf("the token's session = %+v, %v; want the token current and its session revoked", byHash, err)
	}
	if kinds := eventKinds(t, s, sess.ID); !slices.Equal(kinds, []string{store.EventLogin}) {
		t.Errorf("events = %v, want only the login", kinds)
	}
	if got := mustSessionByID(t, s, other.ID); got != other {
		t.Errorf("another session was harmed: %+v", got)
	}
}
