package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"tokenflow/store"
)

func (c contract) createUser(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()

	alice, err := s.CreateUser(ctx, "Alice", "hash")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if alice.ID == "" || alice.Username != "Alice" || alice.PasswordHash != "hash" || !alice.CreatedAt.Equal(T0) {
		t.Errorf("CreateUser = %+v", alice)
	}
	if len(alice.ID) != 22 { // 16 bytes, base64url without padding
		t.Errorf("ID %q has length %d, want 22", alice.ID, len(alice.ID))
	}

	tests := []struct {
		name     string
		username string
		wantErr  error
	}{
		{"nok, same name", "Alice", store.ErrUsernameTaken},
		{"nok, same name lower case", "alice", store.ErrUsernameTaken},
		{"nok, same name upper case", "ALICE", store.ErrUsernameTaken},
		{"ok, another name", "bob", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.CreateUser(ctx, tt.username, "hash")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CreateUser(%q) error = %v, want %v", tt.username, err, tt.wantErr)
			}
			if err == nil && u.ID == alice.ID {
				t.Errorf("two users share ID %q", u.ID)
			}
		})
	}
}

func (c contract) userLookups(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := MustUser(t, s, "Alice")

	tests := []struct {
		name    string
		lookup  func() (store.User, error)
		wantErr error
	}{
		{"ok, username as created", func() (store.User, error) { return s.UserByUsername(ctx, "Alice") }, nil},
		{"ok, username lower case", func() (store.User, error) { return s.UserByUsername(ctx, "alice") }, nil},
		{"ok, username upper case", func() (store.User, error) { return s.UserByUsername(ctx, "ALICE") }, nil},
		{"nok, unknown username", func() (store.User, error) { return s.UserByUsername(ctx, "bob") }, store.ErrNotFound},
		{"ok, by id", func() (store.User, error) { return s.UserByID(ctx, alice.ID) }, nil},
		{"nok, unknown id", func() (store.User, error) { return s.UserByID(ctx, "nope") }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.lookup()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && u != alice {
				t.Errorf("got %+v, want %+v", u, alice)
			}
		})
	}
}

func (c contract) createSession(t *testing.T) {
	now := T0
	s, alice := c.withAlice(t, &now)
	ctx := context.Background()

	sess := MustSession(t, s, alice.ID, "h1")
	want := store.Session{
		ID:                sess.ID,
		UserID:            alice.ID,
		CreatedAt:         T0,
		LastUsedAt:        T0,
		IdleExpiresAt:     T0.Add(IdleTTL),
		AbsoluteExpiresAt: T0.Add(MaxAge),
		UserAgent:         Owner.UserAgent,
		IP:                Owner.IP,
	}
	if sess != want {
		t.Errorf("CreateSession =\n%+v, want\n%+v", sess, want)
	}
	if got := MustSessionByID(t, s, sess.ID); got != want {
		t.Errorf("Session =\n%+v, want\n%+v", got, want)
	}
	byHash, err := s.SessionByRefreshHash(ctx, "h1")
	if err != nil || byHash != want {
		t.Errorf("SessionByRefreshHash = %+v, %v; want %+v", byHash, err, want)
	}

	events, err := s.SessionEvents(ctx, sess.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEvent := store.Event{ID: events[0].ID, SessionID: sess.ID, UserID: alice.ID, Kind: store.EventLogin, At: T0, IP: Owner.IP, UserAgent: Owner.UserAgent}
	if len(events) != 1 || events[0] != wantEvent {
		t.Errorf("events = %+v, want [%+v]", events, wantEvent)
	}

	t.Run("idle expiry capped by max age", func(t *testing.T) {
		sess, err := s.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "h-cap", IdleTTL: 48 * time.Hour, MaxAge: MaxAge})
		if err != nil {
			t.Fatal(err)
		}
		if !sess.IdleExpiresAt.Equal(T0.Add(MaxAge)) {
			t.Errorf("IdleExpiresAt = %v, want %v", sess.IdleExpiresAt, T0.Add(MaxAge))
		}
	})
	t.Run("nok, unknown user", func(t *testing.T) {
		_, err := s.CreateSession(ctx, store.NewSession{UserID: "nope", RefreshHash: "h-x", IdleTTL: IdleTTL, MaxAge: MaxAge})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
	})
	t.Run("nok, duplicate refresh hash rolls back", func(t *testing.T) {
		before, err := s.ActiveSessions(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "h1", IdleTTL: IdleTTL, MaxAge: MaxAge}); err == nil {
			t.Fatal("CreateSession with a hash already in use succeeded")
		}
		after, err := s.ActiveSessions(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("sessions went from %d to %d: the failed transaction left one", len(before), len(after))
		}
	})
	t.Run("nok, missing settings", func(t *testing.T) {
		if _, err := s.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "h-y"}); err == nil {
			t.Error("CreateSession without TTLs succeeded")
		}
	})
}

func (c contract) sessionLookupsNotFound(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()
	if _, err := s.Session(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session error = %v, want ErrNotFound", err)
	}
	if _, err := s.SessionByRefreshHash(ctx, "nope"); !errors.Is(err, store.ErrRefreshUnknown) {
		t.Errorf("SessionByRefreshHash error = %v, want ErrRefreshUnknown", err)
	}
	if events, err := s.SessionEvents(ctx, "nope", 10); err != nil || len(events) != 0 {
		t.Errorf("SessionEvents = %v, %v; want none", events, err)
	}
}

func (c contract) activeSessions(t *testing.T) {
	now := T0
	s, alice := c.withAlice(t, &now)
	ctx := context.Background()
	bob := MustUser(t, s, "bob")

	expired := MustSession(t, s, alice.ID, "expired")
	now = now.Add(IdleTTL) // expired's idle expiry: exactly now, so expired
	older := MustSession(t, s, alice.ID, "older")
	newer := MustSession(t, s, alice.ID, "newer")
	revoked := MustSession(t, s, alice.ID, "revoked")
	MustSession(t, s, bob.ID, "bobs")
	Revoke(t, s, revoked.ID, store.EventLogout)
	now = now.Add(time.Minute)
	UseToken(t, s, "newer", "newer2")
	now = now.Add(time.Minute)
	UseToken(t, s, "older", "older2") // most recently used now

	active, err := s.ActiveSessions(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sess := range active {
		ids = append(ids, sess.ID)
	}
	if want := []string{older.ID, newer.ID}; !slices.Equal(ids, want) {
		t.Errorf("ActiveSessions = %v, want %v (expired %s)", ids, want, expired.ID)
	}
	for _, sess := range active {
		if !sess.Active(now) {
			t.Errorf("listed session %+v is not Active", sess)
		}
	}
	if active, err := s.ActiveSessions(ctx, "nobody"); err != nil || len(active) != 0 {
		t.Errorf("ActiveSessions(nobody) = %v, %v", active, err)
	}
}

func (c contract) deleteExpired(t *testing.T) {
	now := T0
	s, alice := c.withAlice(t, &now)
	ctx := context.Background()

	var doomed []store.Session
	for i := range 5 {
		doomed = append(doomed, MustSession(t, s, alice.ID, fmt.Sprintf("expired-%d", i)))
	}
	// Revoked at T0 but, with long TTLs, not expired at the end.
	oldRevoked, err := s.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "old-revoked", IdleTTL: 48 * time.Hour, MaxAge: 72 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	Revoke(t, s, oldRevoked.ID, store.EventLogout)
	doomed = append(doomed, oldRevoked)

	now = T0.Add(25*time.Hour - time.Minute)
	live := MustSession(t, s, alice.ID, "live-1")
	recentRevoked := MustSession(t, s, alice.ID, "recent-revoked")
	Revoke(t, s, recentRevoked.ID, store.EventLogout)
	// Now the first five have long expired and oldRevoked was revoked 25h ago.
	now = T0.Add(25 * time.Hour)
	UseToken(t, s, "live-1", "live-2") // live-1 is used: it must stay for reuse detection

	var batches []int
	for {
		n, err := s.DeleteExpired(ctx, 2)
		if err != nil {
			t.Fatalf("DeleteExpired: %v", err)
		}
		batches = append(batches, n)
		if n < 2 {
			break
		}
	}
	if want := []int{2, 2, 2, 0}; !slices.Equal(batches, want) {
		t.Errorf("batches = %v, want %v", batches, want)
	}

	for _, sess := range doomed {
		if _, err := s.Session(ctx, sess.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s: error = %v, want ErrNotFound", sess.ID, err)
		}
		if events, err := s.SessionEvents(ctx, sess.ID, 0); err != nil || len(events) != 0 {
			t.Errorf("session %s left events %v, %v", sess.ID, events, err)
		}
	}
	for _, hash := range []string{"expired-0", "expired-4", "old-revoked"} {
		if !RefreshUnknown(t, s, hash) {
			t.Errorf("token %s outlived its deleted session", hash)
		}
	}
	for _, sess := range []store.Session{live, recentRevoked} {
		if _, err := s.Session(ctx, sess.ID); err != nil {
			t.Errorf("session %s: %v, want it kept", sess.ID, err)
		}
	}
	// Reuse detection still sees the old token of the live session.
	if tok := MustToken(t, s, "live-1"); !tok.Used() {
		t.Errorf("old token of a live session = %+v, want it kept as used", tok)
	}
}

// SessionTimeline answers what Session and SessionEvents answer, in one
// read: the same session, the same events in the same order, the limit
// counted in events (not rows), ErrNotFound for an unknown session.
func (c contract) sessionTimeline(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := MustUser(t, s, "alice")
	sess := MustSession(t, s, alice.ID, "r0")
	for i := range 5 {
		now = now.Add(time.Second)
		kind := store.EventRefresh
		if i == 2 {
			kind = store.EventRefreshGrace
		}
		inTx(t, s, func(tx store.Tx) error {
			return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: alice.ID, Kind: kind, At: tx.Now(), IP: "198.51.100.7", UserAgent: "ua", Detail: "d"})
		})
	}
	// Two events at one instant: the id breaks the tie, as in SessionEvents.
	inTx(t, s, func(tx store.Tx) error {
		return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: alice.ID, Kind: store.EventRefresh, At: tx.Now()})
	})
	other := MustSession(t, s, alice.ID, "other")
	Revoke(t, s, other.ID, store.EventRevoked)

	for _, tc := range []struct {
		name  string
		id    string
		limit int
	}{
		{"ok, all", sess.ID, 0},
		{"ok, negative limit is all", sess.ID, -1},
		{"ok, limit below the count", sess.ID, 3},
		{"ok, limit of one", sess.ID, 1},
		{"ok, limit above the count", sess.ID, 50},
		{"ok, a revoked session", other.ID, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantSess := MustSessionByID(t, s, tc.id)
			wantEvents, err := s.SessionEvents(ctx, tc.id, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			gotSess, gotEvents, err := s.SessionTimeline(ctx, tc.id, tc.limit)
			if err != nil {
				t.Fatalf("SessionTimeline: %v", err)
			}
			if !reflect.DeepEqual(gotSess, wantSess) {
				t.Errorf("session\n got  %+v\n want %+v", gotSess, wantSess)
			}
			if len(gotEvents) == 0 || !reflect.DeepEqual(gotEvents, wantEvents) {
				t.Errorf("events\n got  %+v\n want %+v", gotEvents, wantEvents)
			}
		})
	}

	t.Run("nok, unknown session", func(t *testing.T) {
		if _, _, err := s.SessionTimeline(ctx, "no-such-session", 10); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("ok, a fresh session: its login", func(t *testing.T) {
		bob := MustUser(t, s, "bob")
		fresh := MustSession(t, s, bob.ID, "fresh")
		got, events, err := s.SessionTimeline(ctx, fresh.ID, 0)
		if err != nil || got.ID != fresh.ID || len(events) != 1 || events[0].Kind != store.EventLogin {
			t.Fatalf("SessionTimeline = %+v, %+v, %v; want the session and its login", got, events, err)
		}
	})
}

func (c contract) sessionByRefreshHashIgnoresRotatedTokens(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	sess := MustSession(t, s, MustUser(t, s, "alice").ID, "h1")
	UseToken(t, s, "h1", "h2")
	if _, err := s.SessionByRefreshHash(context.Background(), "h1"); !errors.Is(err, store.ErrRefreshUnknown) {
		t.Errorf("rotated token: %v, want ErrRefreshUnknown", err)
	}
	if got, err := s.SessionByRefreshHash(context.Background(), "h2"); err != nil || got.ID != sess.ID {
		t.Errorf("current token: %+v, %v", got, err)
	}
}
