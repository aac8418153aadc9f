package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
)

func (c contract) createUser(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()

	alice, err := s.CreateUser(ctx, "Alice", "hash")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if alice.ID == "" || alice.Username != "Alice" || alice.PasswordHash != "hash" || !alice.CreatedAt.Equal(t0) {
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
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := mustUser(t, s, "Alice")

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
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := mustUser(t, s, "alice")

	sess := mustSession(t, s, alice.ID, "h1")
	want := store.Session{
		ID:                sess.ID,
		UserID:            alice.ID,
		CreatedAt:         t0,
		LastUsedAt:        t0,
		IdleExpiresAt:     t0.Add(idleTTL),
		AbsoluteExpiresAt: t0.Add(maxAge),
		UserAgent:         owner.UserAgent,
		IP:                owner.IP,
	}
	if sess != want {
		t.Errorf("CreateSession =\n%+v, want\n%+v", sess, want)
	}
	if got := mustSessionByID(t, s, sess.ID); got != want {
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
	wantEvent := store.Event{ID: events[0].ID, SessionID: sess.ID, UserID: alice.ID, Kind: store.EventLogin, At: t0, IP: owner.IP, UserAgent: owner.UserAgent}
	if len(events) != 1 || events[0] != wantEvent {
		t.Errorf("events = %+v, want [%+v]", events, wantEvent)
	}

	t.Run("idle expiry capped by max age", func(t *testing.T) {
		sess, err := s.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "h-cap", IdleTTL: 48 * time.Hour, MaxAge: maxAge})
		if err != nil {
			t.Fatal(err)
		}
		if !sess.IdleExpiresAt.Equal(t0.Add(maxAge)) {
			t.Errorf("IdleExpiresAt = %v, want %v", sess.IdleExpiresAt, t0.Add(maxAge))
		}
	})
	t.Run("nok, unknown user", func(t *testing.T) {
		_, err := s.CreateSession(ctx, store.NewSession{UserID: "nope", RefreshHash: "h-x", IdleTTL: idleTTL, MaxAge: maxAge})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
	})
	t.Run("nok, duplicate refresh hash rolls back", func(t *testing.T) {
		before, err := s.ActiveSessions(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "h1", IdleTTL: idleTTL, MaxAge: maxAge}); err == nil {
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

// TestRotateRefreshTokenScenarios replays sequences of refreshes against a
// session created at t0 with refresh token h1.
func (c contract) rotateRefreshTokenScenarios(t *testing.T) {
	type step struct {
		advance   time.Duration // clock moves this much before the step
		presented string
		next      string
		client    store.Client
		wantErr   error
	}
	tests := []struct {
		name        string
		steps       []step
		wantKinds   []string // newest first
		wantRevoked string   // RevokeReason at the end
	}{
		{
			name: "ok, chain of rotations",
			steps: []step{
				{advance: 10 * time.Minute, presented: "h1", next: "h2"},
				{advance: 10 * time.Minute, presented: "h2", next: "h3"},
				{advance: 50 * time.Minute, presented: "h3", next: "h4"},
			},
			wantKinds: []string{store.EventRefresh, store.EventRefresh, store.EventRefresh, store.EventLogin},
		},
		{
			name: "ok, old token again within grace",
			steps: []step{
				{advance: time.Minute, presented: "h1", next: "h2"},
				{advance: 5 * time.Second, presented: "h1", next: "h2b"},
				{advance: 5*time.Second - time.Millisecond, presented: "h1", next: "h2c"}, // the window's last millisecond
				{advance: time.Millisecond, presented: "h2", next: "h3"},
			},
			wantKinds: []string{store.EventRefresh, store.EventRefreshGrace, store.EventRefreshGrace, store.EventRefresh, store.EventLogin},
		},
		{
			name: "ok, retired sibling inside the window of the fork",
			steps: []step{
				{advance: time.Minute, presented: "h1", next: "h2"},
				{advance: 2 * time.Second, presented: "h1", next: "h2b"},
				{advance: 2 * time.Second, presented: "h2", next: "h3"}, // retires h2b, which keeps the fork's deadline
				{advance: 2 * time.Second, presented: "h2b", next: "h3b"},
			},
			wantKinds: []string{store.EventRefreshGrace, store.EventRefresh, store.EventRefreshGrace, store.EventRefresh, store.EventLogin},
		},
		{
			name: "nok, old token at the end of the window",
			steps: []step{
				{advance: time.Minute, presented: "h1", next: "h2"},
				{advance: grace, presented: "h1", next: "hx", client: thief, wantErr: store.ErrRefreshReused},
			},
			wantKinds:   []string{store.EventReuseDetected, store.EventRefresh, store.EventLogin},
			wantRevoked: store.EventReuseDetected,
		},
		{
			name: "nok, retired sibling after the window of the fork",
			steps: []step{
				{advance: time.Minute, presented: "h1", next: "h2"},
				{advance: 5 * time.Second, presented: "h1", next: "h2b"},
				{advance: 6 * time.Second, presented: "h2", next: "h3"}, // a new window for h2, not for h2b
				{presented: "h2b", next: "h3b", client: thief, wantErr: store.ErrRefreshReused},
			},
			wantKinds:   []string{store.EventReuseDetected, store.EventRefresh, store.EventRefreshGrace, store.EventRefresh, store.EventLogin},
			wantRevoked: store.EventReuseDetected,
		},
		{
			name: "nok, old token after grace revokes the session",
			steps: []step{
				{advance: time.Minute, presented: "h1", next: "h2"},
				{advance: grace + time.Millisecond, presented: "h1", next: "hx", client: thief, wantErr: store.ErrRefreshReused},
				{presented: "h2", next: "h3", wantErr: store.ErrSessionRevoked},
				{presented: "h1", next: "h3", wantErr: store.ErrSessionRevoked},
				{presented: "hx", next: "h3", wantErr: store.ErrRefreshUnknown},
			},
			wantKinds:   []string{store.EventReuseDetected, store.EventRefresh, store.EventLogin},
			wantRevoked: store.EventReuseDetected,
		},
		{
			name: "nok, idle expiry",
			steps: []step{
				{advance: idleTTL - time.Millisecond, presented: "h1", next: "h2"},
				{advance: idleTTL, presented: "h2", next: "h3", wantErr: store.ErrSessionExpired},
			},
			wantKinds: []string{store.EventRefresh, store.EventLogin},
		},
		{
			name: "nok, max age however often refreshed",
			steps: func() []step {
				var steps []step
				prev := "h1"
				// Every 50 minutes for just under 24 hours...
				for i := range 28 {
					next := fmt.Sprintf("h%d", i+2)
					steps = append(steps, step{advance: 50 * time.Minute, presented: prev, next: next})
					prev = next
				}
				// ... and then the 24 hours are up.
				return append(steps, step{advance: maxAge - 28*50*time.Minute, presented: prev, next: "late", wantErr: store.ErrSessionExpired})
			}(),
			wantKinds: append(slices.Repeat([]string{store.EventRefresh}, 28), store.EventLogin),
		},
		{
			name:      "nok, unknown token",
			steps:     []step{{presented: "nope", next: "h2", wantErr: store.ErrRefreshUnknown}},
			wantKinds: []string{store.EventLogin},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			s := c.open(t, &now)
			sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
			for i, st := range tt.steps {
				now = now.Add(st.advance)
				c := st.client
				if c == (store.Client{}) {
					c = owner
				}
				if _, err := rotate(s, st.presented, st.next, c); !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d (%s -> %s at +%s): error = %v, want %v",
						i, st.presented, st.next, now.Sub(t0), err, st.wantErr)
				}
			}
			if got := eventKinds(t, s, sess.ID); !slices.Equal(got, tt.wantKinds) {
				t.Errorf("events = %v, want %v", got, tt.wantKinds)
			}
			if got := mustSessionByID(t, s, sess.ID).RevokeReason; got != tt.wantRevoked {
				t.Errorf("RevokeReason = %q, want %q", got, tt.wantRevoked)
			}
		})
	}
}

func (c contract) rotateRefreshTokenSlidesExpiry(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	created := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")

	now = t0.Add(10 * time.Minute)
	laptop := store.Client{IP: "198.51.100.7", UserAgent: "laptop"}
	got, err := rotate(s, "h1", "h2", laptop)
	if err != nil {
		t.Fatal(err)
	}
	want := created
	want.LastUsedAt = now
	want.IdleExpiresAt = now.Add(idleTTL)
	want.IP, want.UserAgent = laptop.IP, laptop.UserAgent
	if got != want {
		t.Errorf("rotated session =\n%+v, want\n%+v", got, want)
	}
	if stored := mustSessionByID(t, s, created.ID); stored != want {
		t.Errorf("stored session =\n%+v, want\n%+v", stored, want)
	}

	// The old token is used up; its replacement is current.
	if !refreshUnknown(t, s, "h1") {
		t.Error("the rotated token is still current")
	}
	if s2, err := s.SessionByRefreshHash(ctx, "h2"); err != nil || s2.ID != created.ID {
		t.Errorf("SessionByRefreshHash(h2) = %v, %v", s2.ID, err)
	}

	// Within grace: a sibling token. (That the old token keeps its first
	// use, so the window does not move, is rotateRefreshTokenScenarios'
	// "the window's last millisecond".)
	now = now.Add(3 * time.Second)
	if _, err := rotate(s, "h1", "h2b", owner); err != nil {
		t.Fatalf("rotate within grace: %v", err)
	}
	if s2, err := s.SessionByRefreshHash(ctx, "h2b"); err != nil || s2.ID != created.ID {
		t.Errorf("SessionByRefreshHash(h2b) = %v, %v", s2.ID, err)
	}

	// Refreshed every 50 minutes, the idle expiry slides until it reaches
	// the absolute expiry, and stops there.
	prev := "h2"
	for i := 0; ; i++ {
		now = now.Add(50 * time.Minute)
		if !now.Before(t0.Add(maxAge)) {
			break
		}
		next := fmt.Sprintf("slide-%d", i)
		got := mustRotate(t, s, prev, next)
		prev = next
		wantIdle := earliest(now.Add(idleTTL), t0.Add(maxAge))
		if !got.IdleExpiresAt.Equal(wantIdle) || !got.AbsoluteExpiresAt.Equal(t0.Add(maxAge)) {
			t.Fatalf("at +%s: IdleExpiresAt = %v, AbsoluteExpiresAt = %v, want %v and %v",
				now.Sub(t0), got.IdleExpiresAt, got.AbsoluteExpiresAt, wantIdle, t0.Add(maxAge))
		}
	}
	if _, err := rotate(s, prev, "too-late", owner); !errors.Is(err, store.ErrSessionExpired) {
		t.Errorf("after max age: error = %v, want ErrSessionExpired", err)
	}
}

func (c contract) rotateRefreshTokenReuse(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	mustRotate(t, s, "h1", "h2")
	mustRotate(t, s, "h2", "h3") // h3 is what the owner holds now

	now = now.Add(time.Minute)
	got, err := rotate(s, "h1", "stolen-next", thief)
	if !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("reuse error = %v, want ErrRefreshReused", err)
	}
	if got.ID != sess.ID || !got.RevokedAt.Equal(now) || got.RevokeReason != store.EventReuseDetected {
		t.Errorf("returned session = %+v, want it revoked at %v for reuse", got, now)
	}

	// Committed despite the error.
	stored := mustSessionByID(t, s, sess.ID)
	if !stored.Revoked() || stored.RevokeReason != store.EventReuseDetected {
		t.Errorf("stored session = %+v, want revoked for reuse", stored)
	}
	for _, h := range []string{"h3", "stolen-next"} {
		if !refreshUnknown(t, s, h) {
			t.Errorf("token %s still current after reuse", h)
		}
	}

	// The owner's newest token is dead too, and says why.
	got, err = rotate(s, "h3", "h4", owner)
	if !errors.Is(err, store.ErrSessionRevoked) {
		t.Fatalf("newest token error = %v, want ErrSessionRevoked", err)
	}
	if got.RevokeReason != store.EventReuseDetected {
		t.Errorf("RevokeReason = %q, want %q", got.RevokeReason, store.EventReuseDetected)
	}

	events, err := s.SessionEvents(ctx, sess.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("SessionEvents(limit 1) returned %d events", len(events))
	}
	e := events[0]
	if e.Kind != store.EventReuseDetected || e.IP != thief.IP || e.UserAgent != thief.UserAgent || !e.At.Equal(now) || e.Detail == "" {
		t.Errorf("newest event = %+v, want reuse_detected from %+v at %v with a detail", e, thief, now)
	}

	if active, err := s.ActiveSessions(ctx, sess.UserID); err != nil || len(active) != 0 {
		t.Errorf("ActiveSessions = %v, %v; want none", active, err)
	}
}

func (c contract) sessionLookupsNotFound(t *testing.T) {
	now := t0
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

func (c contract) revokeSession(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	sess := mustSession(t, s, alice.ID, "h1")

	tests := []struct {
		name      string
		userID    string
		sessionID string
		kind      string
		wantErr   error
		wantKinds []string
	}{
		{"nok, another user's session", bob.ID, sess.ID, store.EventRevoked, store.ErrNotFound, []string{store.EventLogin}},
		{"nok, unknown session", alice.ID, "nope", store.EventRevoked, store.ErrNotFound, []string{store.EventLogin}},
		{"ok, logout", alice.ID, sess.ID, store.EventLogout, nil, []string{store.EventLogout, store.EventLogin}},
		{"ok, already revoked: no second event", alice.ID, sess.ID, store.EventRevoked, nil, []string{store.EventLogout, store.EventLogin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(time.Minute)
			err := s.RevokeSession(ctx, tt.userID, tt.sessionID, tt.kind, owner)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got := eventKinds(t, s, sess.ID); !slices.Equal(got, tt.wantKinds) {
				t.Errorf("events = %v, want %v", got, tt.wantKinds)
			}
		})
	}

	got := mustSessionByID(t, s, sess.ID)
	if got.RevokeReason != store.EventLogout || !got.RevokedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("session = %+v, want revoked by logout at +3m", got)
	}
	if _, err := rotate(s, "h1", "h2", owner); !errors.Is(err, store.ErrSessionRevoked) {
		t.Errorf("rotate after logout: error = %v, want ErrSessionRevoked", err)
	}
	if err := s.RevokeSession(ctx, alice.ID, sess.ID, store.EventRefresh, owner); err == nil {
		t.Error("RevokeSession accepted kind refresh")
	}
}

func (c contract) revokeUserSessions(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")

	expired := mustSession(t, s, alice.ID, "a-expired")
	now = now.Add(2 * idleTTL)
	current := mustSession(t, s, alice.ID, "a-current")
	other1 := mustSession(t, s, alice.ID, "a-other1")
	other2 := mustSession(t, s, alice.ID, "a-other2")
	bobs := mustSession(t, s, bob.ID, "b-1")

	n, err := s.RevokeUserSessions(ctx, alice.ID, current.ID, owner)
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions(except current) = %d, %v; want 2", n, err)
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
		got := mustSessionByID(t, s, tc.sess.ID)
		if got.Revoked() != tc.wantRevoked {
			t.Errorf("session %s revoked = %v, want %v", tc.sess.ID, got.Revoked(), tc.wantRevoked)
		}
		if tc.wantRevoked {
			if got.RevokeReason != store.EventRevoked {
				t.Errorf("RevokeReason = %q, want %q", got.RevokeReason, store.EventRevoked)
			}
			if kinds := eventKinds(t, s, tc.sess.ID); !slices.Equal(kinds, []string{store.EventRevoked, store.EventLogin}) {
				t.Errorf("events = %v", kinds)
			}
		}
	}

	n, err = s.RevokeUserSessions(ctx, alice.ID, "", owner)
	if err != nil || n != 1 {
		t.Fatalf("RevokeUserSessions(all) = %d, %v; want 1", n, err)
	}
	if active, _ := s.ActiveSessions(ctx, alice.ID); len(active) != 0 {
		t.Errorf("alice still has %d active sessions", len(active))
	}
	if active, _ := s.ActiveSessions(ctx, bob.ID); len(active) != 1 {
		t.Errorf("bob has %d active sessions, want 1", len(active))
	}
}

func (c contract) activeSessions(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")

	expired := mustSession(t, s, alice.ID, "expired")
	now = now.Add(idleTTL) // expired's idle expiry: exactly now, so expired
	older := mustSession(t, s, alice.ID, "older")
	newer := mustSession(t, s, alice.ID, "newer")
	revoked := mustSession(t, s, alice.ID, "revoked")
	mustSession(t, s, bob.ID, "bobs")
	if err := s.RevokeSession(ctx, alice.ID, revoked.ID, store.EventLogout, owner); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	mustRotate(t, s, "newer", "newer2")
	now = now.Add(time.Minute)
	mustRotate(t, s, "older", "older2") // most recently used now

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
	now := t0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := mustUser(t, s, "alice")

	var doomed []store.Session
	for i := range 5 {
		doomed = append(doomed, mustSession(t, s, alice.ID, fmt.Sprintf("expired-%d", i)))
	}
	// Revoked at t0 but, with long TTLs, not expired at the end.
	oldRevoked, err := s.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "old-revoked", IdleTTL: 48 * time.Hour, MaxAge: 72 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, alice.ID, oldRevoked.ID, store.EventLogout, owner); err != nil {
		t.Fatal(err)
	}
	doomed = append(doomed, oldRevoked)

	now = t0.Add(25*time.Hour - time.Minute)
	live := mustSession(t, s, alice.ID, "live-1")
	recentRevoked := mustSession(t, s, alice.ID, "recent-revoked")
	if err := s.RevokeSession(ctx, alice.ID, recentRevoked.ID, store.EventLogout, owner); err != nil {
		t.Fatal(err)
	}
	// Now the first five have long expired and oldRevoked was revoked 25h ago.
	now = t0.Add(25 * time.Hour)
	mustRotate(t, s, "live-1", "live-2") // live-1 is used: it must stay for reuse detection

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
		if !refreshUnknown(t, s, hash) {
			t.Errorf("token %s outlived its deleted session", hash)
		}
	}
	for _, sess := range []store.Session{live, recentRevoked} {
		if _, err := s.Session(ctx, sess.ID); err != nil {
			t.Errorf("session %s: %v, want it kept", sess.ID, err)
		}
	}
	// Reuse detection still sees the old token of the live session.
	now = now.Add(time.Minute)
	if _, err := rotate(s, "live-1", "x", thief); !errors.Is(err, store.ErrRefreshReused) {
		t.Errorf("old token of a live session: error = %v, want ErrRefreshReused", err)
	}
}

// TestRotateRefreshTokenConcurrent has many tabs refresh with the same token
// at once: one rotates, the others land in the grace window, nobody logs out.
func (c contract) rotateRefreshTokenConcurrent(t *testing.T) {
	for _, workers := range []int{8, 32} {
		t.Run(fmt.Sprintf("%d goroutines", workers), func(t *testing.T) {
			now := t0
			s := c.open(t, &now)
			sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
			now = now.Add(time.Minute)

			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make([]error, workers)
			)
			for i := range workers {
				wg.Go(func() {
					<-start
					_, errs[i] = rotate(s, "h1", fmt.Sprintf("h2-%d", i), owner)
				})
			}
			close(start)
			wg.Wait()

			for i, err := range errs {
				if err != nil {
					t.Errorf("goroutine %d: %v", i, err)
				}
			}
			got := mustSessionByID(t, s, sess.ID)
			if !got.Active(now) {
				t.Errorf("session not active after concurrent refreshes: %+v", got)
			}
			kinds := eventKinds(t, s, sess.ID)
			var refreshes, graces int
			for _, k := range kinds {
				switch k {
				case store.EventRefresh:
					refreshes++
				case store.EventRefreshGrace:
					graces++
				}
			}
			if refreshes != 1 || graces != workers-1 {
				t.Errorf("%d refresh and %d refresh_grace events, want 1 and %d", refreshes, graces, workers-1)
			}
			// Every tab got a working token.
			for i := range workers {
				if _, err := rotate(s, fmt.Sprintf("h2-%d", i), fmt.Sprintf("h3-%d", i), owner); err != nil {
					t.Errorf("new token %d: %v", i, err)
				}
			}
		})
	}
}

// A token replayed inside the grace window must not buy a second chain that
// lives on undetected: the next normal rotation retires the sibling, and the
// sibling coming back after the grace window is reuse.
func (c contract) rotateRefreshTokenGraceSiblingCannotForkTheSession(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	mustRotate(t, s, "h1", "owner-2") // the owner rotates

	now = now.Add(grace / 2)
	if _, err := rotate(s, "h1", "thief-2", thief); err != nil { // a replay inside the grace window
		t.Fatalf("replay within grace: %v", err)
	}
	now = now.Add(time.Minute)
	mustRotate(t, s, "owner-2", "owner-3") // the owner's branch goes on and retires the sibling

	now = now.Add(time.Minute)
	if _, err := rotate(s, "thief-2", "thief-3", thief); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("sibling after the owner rotated: %v, want ErrRefreshReused", err)
	}
	if got := mustSessionByID(t, s, sess.ID); got.RevokeReason != store.EventReuseDetected {
		t.Fatalf("session = %+v, want revoked for reuse", got)
	}
}

func (c contract) sessionByRefreshHashIgnoresRotatedTokens(t *testing.T) {
	now := t0
	s := c.open(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	mustRotate(t, s, "h1", "h2")
	if _, err := s.SessionByRefreshHash(context.Background(), "h1"); !errors.Is(err, store.ErrRefreshUnknown) {
		t.Errorf("rotated token: %v, want ErrRefreshUnknown", err)
	}
	if got, err := s.SessionByRefreshHash(context.Background(), "h2"); err != nil || got.ID != sess.ID {
		t.Errorf("current token: %+v, %v", got, err)
	}
}
