package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/storetest"
)

// The revocation rules' tests (revoke.go), run against the real stores as
// the session cap's are: the rules live here once, above every backend;
// the primitives they run on are held to their contract in
// store/storetest.

func TestRevocation(t *testing.T) {
	for _, b := range capBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("one session", func(t *testing.T) { revokeOneSession(t, b.open) })
			t.Run("the user's sessions", func(t *testing.T) { revokeUserSessions(t, b.open) })
		})
	}
}

// openRevocation is the service alone over a fresh store of the backend,
// with the users alice and bob; both clocks read *now.
func openRevocation(t *testing.T, open func(*testing.T, *time.Time) store.Store, now *time.Time) (store.Store, *Service, store.User, store.User) {
	s := open(t, now)
	svc := NewService(Deps{Store: s, Now: func() time.Time { return *now }})
	return s, svc, storetest.MustUser(t, s, "alice"), storetest.MustUser(t, s, "bob")
}

func revokeOneSession(t *testing.T, open func(*testing.T, *time.Time) store.Store) {
	now := t0
	s, svc, alice, bob := openRevocation(t, open, &now)
	ctx := context.Background()
	sess := mustCapped(t, s, alice.ID, "h1", 0)

	tests := []struct {
		name      string
		userID    string
		sessionID string
		reason    string
		wantErr   error
		wantKinds []string
	}{
		{"nok, another user's session", bob.ID, sess.ID, store.EventRevoked, ErrNoSuchSession, []string{store.EventLogin}},
		{"nok, unknown session", alice.ID, "nope", store.EventRevoked, ErrNoSuchSession, []string{store.EventLogin}},
		{"ok, logout", alice.ID, sess.ID, store.EventLogout, nil, []string{store.EventLogout, store.EventLogin}},
		{"ok, already revoked: no second event", alice.ID, sess.ID, store.EventRevoked, nil, []string{store.EventLogout, store.EventLogin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(time.Minute)
			err := svc.revokeSession(ctx, tt.userID, tt.sessionID, tt.reason, owner)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got := storetest.EventKinds(t, s, sess.ID); !slices.Equal(got, tt.wantKinds) {
				t.Errorf("events = %v, want %v", got, tt.wantKinds)
			}
		})
	}

	got := storetest.MustSessionByID(t, s, sess.ID)
	if got.RevokeReason != store.EventLogout || !got.RevokedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("session = %+v, want revoked by logout at +3m", got)
	}
	events, err := s.SessionEvents(ctx, sess.ID, 1)
	if err != nil || len(events) != 1 || events[0].IP != owner.IP || events[0].UserAgent != owner.UserAgent || !events[0].At.Equal(got.RevokedAt) || events[0].Detail != "" {
		t.Errorf("logout event = %+v, %v; want the client's, at the revocation", events, err)
	}
	// The tokens are left as they are: a refresh reads "revoked", not reuse.
	if byHash, err := s.SessionByRefreshHash(ctx, "h1"); err != nil || byHash.RevokeReason != store.EventLogout {
		t.Errorf("the token's session after logout = %+v, %v; want it revoked by logout", byHash, err)
	}
}

func revokeUserSessions(t *testing.T, open func(*testing.T, *time.Time) store.Store) {
	now := t0
	s, svc, alice, bob := openRevocation(t, open, &now)
	ctx := context.Background()

	expired := mustCapped(t, s, alice.ID, "a-expired", 0)
	now = now.Add(2 * idleTTL)
	current := mustCapped(t, s, alice.ID, "a-current", 0)
	other1 := mustCapped(t, s, alice.ID, "a-other1", 0)
	other2 := mustCapped(t, s, alice.ID, "a-other2", 0)
	bobs := mustCapped(t, s, bob.ID, "b-1", 0)

	n, err := svc.revokeUserSessions(ctx, alice.ID, current.ID, owner)
	if err != nil || n != 2 {
		t.Fatalf("revokeUserSessions(except current) = %d, %v; want 2", n, err)
	}
	for _, tc := range []struct {
		sess        store.Session
		wantRevoked bool
	}{
		{expired, false}, // expired is not live: nothing to revoke
		{current, false},
		{other1, true},
		{other2, true},
		{bobs, false},
	} {
		got := storetest.MustSessionByID(t, s, tc.sess.ID)
		if got.Revoked() != tc.wantRevoked {
			t.Errorf("session %s revoked = %v, want %v", tc.sess.ID, got.Revoked(), tc.wantRevoked)
		}
		if !tc.wantRevoked {
			continue
		}
		if got.RevokeReason != store.EventRevoked || !got.RevokedAt.Equal(now) {
			t.Errorf("session = %+v, want revoked now", got)
		}
		events, err := s.SessionEvents(ctx, tc.sess.ID, 0)
		if err != nil || len(events) != 2 || events[0].Kind != store.EventRevoked || events[0].Detail != "revoked from session "+current.ID || events[0].IP != owner.IP {
			t.Errorf("events = %+v, %v; want revoked from the current session, then login", events, err)
		}
	}

	n, err = svc.revokeUserSessions(ctx, alice.ID, "", owner)
	if err != nil || n != 1 {
		t.Fatalf("revokeUserSessions(all) = %d, %v; want 1", n, err)
	}
	if events, _ := s.SessionEvents(ctx, current.ID, 1); len(events) != 1 || events[0].Kind != store.EventRevoked || events[0].Detail != "" {
		t.Errorf("events of the last session = %+v, want revoked with no detail", events)
	}
	if active, _ := s.ActiveSessions(ctx, alice.ID); len(active) != 0 {
		t.Errorf("alice still has %d active sessions", len(active))
	}
	if active, _ := s.ActiveSessions(ctx, bob.ID); len(active) != 1 {
		t.Errorf("bob has %d active sessions, want 1", len(active))
	}
	if n, err := svc.revokeUserSessions(ctx, "nobody", "", owner); err != nil || n != 0 {
		t.Errorf("revokeUserSessions(unknown user) = %d, %v; want 0", n, err)
	}
}
