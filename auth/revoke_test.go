package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tokenflow/store"
	"tokenflow/store/storetest"
	"tokenflow/tokens"
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
		// PostgreSQL cannot even compare these with a text column (22021):
		// they are no ID the store makes, so they name no session.
		{"nok, an ID with NUL", alice.ID, "a\x00b", store.EventRevoked, ErrNoSuchSession, []string{store.EventLogin}},
		{"nok, an ID that is not UTF-8", alice.ID, "\xff\xfe", store.EventRevoked, ErrNoSuchSession, []string{store.EventLogin}},
		{"ok, logout", alice.ID, sess.ID, store.EventLogout, nil, []string{store.EventLogout, store.EventLogin}},
		{"ok, already revoked: no second event", alice.ID, sess.ID, store.EventRevoked, nil, []string{store.EventLogout, store.EventLogin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(time.Minute)
			_, err := svc.revokeSession(ctx, tt.userID, tt.sessionID, tt.sessionID, tt.reason, owner)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got := storetest.EventKinds(t, s, sess.ID); !slices.Equal(got, tt.wantKinds) {
				t.Errorf("events = %v, want %v", got, tt.wantKinds)
			}
		})
	}

	got := storetest.MustSessionByID(t, s, sess.ID)
	if got.RevokeReason != store.EventLogout || !got.RevokedAt.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("session = %+v, want revoked by logout at +5m", got)
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

// A session that has ended ends nothing more. The checks before the
// transaction (CurrentSession for logout, requireLiveSession for the
// sessions page) can be overtaken: here the owner ends the stolen session
// from their own device while the thief's request is between its check and
// its revocation. The transaction that would end the user's other sessions
// finds the acting session no longer live, under the user's lock, and ends
// none.
func TestAnEndedSessionEndsNoOtherSession(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		act  func(svc *Service, acting, victim store.Session) error
	}{
		{"logout, scope others", func(svc *Service, acting, _ store.Session) error {
			return svc.Logout(ctx, acting, ScopeOthers, thief)
		}},
		{"logout, scope global", func(svc *Service, acting, _ store.Session) error {
			return svc.Logout(ctx, acting, ScopeGlobal, thief)
		}},
		{"the sessions page", func(svc *Service, acting, victim store.Session) error {
			if err := svc.RevokeSession(ctx, acting.UserID, acting.ID, victim.ID, thief); !errors.Is(err, ErrNoSuchSession) {
				return fmt.Errorf("RevokeSession from an ended session = %v, want ErrNoSuchSession", err)
			}
			return nil
		}},
	}
	for _, b := range capBackends {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					now := t0
					s, svc, alice, _ := openRevocation(t, b.open, &now)
					stolen := mustCapped(t, s, alice.ID, "a-stolen", 0)
					victim := mustCapped(t, s, alice.ID, "a-victim", 0)
					claims := &tokens.Claims{SessionID: stolen.ID, RegisteredClaims: jwt.RegisteredClaims{Subject: alice.ID}}
					seen, ok, err := svc.CurrentSession(ctx, "", claims)
					if err != nil || !ok {
						t.Fatalf("CurrentSession = %v, %v; want the stolen session live", ok, err)
					}
					if err := svc.RevokeSession(ctx, alice.ID, victim.ID, stolen.ID, owner); err != nil {
						t.Fatal(err)
					}
					if err := tt.act(svc, seen, victim); err != nil {
						t.Fatal(err)
					}
					if got := storetest.MustSessionByID(t, s, victim.ID); got.Revoked() {
						t.Errorf("the ended session ended the user's other one: %+v", got)
					}
					if got := storetest.EventKinds(t, s, victim.ID); !slices.Equal(got, []string{store.EventLogin}) {
						t.Errorf("the other session's events = %v, want its login only", got)
					}
					if got := storetest.MustSessionByID(t, s, stolen.ID); got.RevokeReason != store.EventRevoked {
						t.Errorf("the stolen session = %+v, want it revoked by the owner, not again", got)
					}
				})
			}
		})
	}
}

// Ending one session from another takes the user's lock before the
// sessions' (as the session cap and logout-others do), so everything that
// ends or rotates sessions of one user at once queues up and never
// deadlocks: rotations (and reuse, with no grace), capped logins,
// logout-others, logouts, ends from the sessions page in both directions,
// and reuse detection at logout, for two seconds per backend. Any error
// fails, a deadlock (PostgreSQL 40P01) among them.
func TestRevocationLockOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("a two-second stress test per backend")
	}
	for _, b := range capBackends {
		t.Run(b.name, func(t *testing.T) {
			now := time.Now()
			s, _, alice, _ := openRevocation(t, b.open, &now)
			// The store reads *now; this test moves nothing, so it is the
			// real clock throughout.
			clock := func() time.Time { return time.Now() }
			tm, err := tokens.NewManager(tokens.Config{Secret: []byte("test-secret-test-secret-test-secret!"), Issuer: "tokenflow", Audience: "tokenflow", TTL: 5 * time.Minute, Leeway: time.Second, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			svc := NewService(Deps{Store: s, Issuer: tm, Now: clock, Config: Config{RefreshTokenTTL: idleTTL, SessionMaxAge: maxAge}})

			type current struct{ id, hash string }
			var mu sync.Mutex
			var seen []current // every session and token made; most are ended or rotated soon
			made := 0
			login := func() {
				mu.Lock()
				made++
				hash := fmt.Sprintf("h-%d", made)
				mu.Unlock()
				sess, err := capped(t, s, alice.ID, hash, 4)
				if err != nil {
					failUnlessDeadlockFree(t, "capped login", err)
					return
				}
				mu.Lock()
				seen = append(seen, current{sess.ID, hash})
				mu.Unlock()
			}
			for range 4 {
				login()
			}
			pick := func(i int) current {
				mu.Lock()
				defer mu.Unlock()
				return seen[(i*7+len(seen))%len(seen)]
			}

			ctx := context.Background()
			deadline := time.Now().Add(2 * time.Second)
			var wg sync.WaitGroup
			worker := func(f func(i int)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; time.Now().Before(deadline); i++ {
						f(i)
					}
				}()
			}
			for w := range 2 {
				worker(func(i int) {
					cur := pick(i + w)
					next := fmt.Sprintf("%s-r%d-%d", cur.hash, w, i)
					_, err := svc.rotate(ctx, cur.hash, next, owner)
					if err == nil {
						mu.Lock()
						seen = append(seen, current{cur.id, next})
						mu.Unlock()
					} else if !errors.Is(err, ErrSessionRevoked) && !errors.Is(err, ErrRefreshReused) && !errors.Is(err, ErrSessionExpired) {
						failUnlessDeadlockFree(t, "rotate", err)
					}
				})
			}
			worker(func(int) { login() })
			worker(func(i int) {
				if _, err := svc.revokeUserSessions(ctx, alice.ID, pick(i).id, owner); err != nil && !errors.Is(err, ErrNoSuchSession) {
					failUnlessDeadlockFree(t, "logout-others", err)
				}
			})
			worker(func(i int) {
				if _, err := svc.revokeSession(ctx, alice.ID, pick(i+3).id, pick(i+3).id, store.EventLogout, owner); err != nil {
					failUnlessDeadlockFree(t, "logout", err)
				}
			})
			for dir := range 2 { // A ends B while B ends A
				worker(func(i int) {
					a, b := pick(i+dir), pick(i+1-dir)
					if err := svc.RevokeSession(ctx, alice.ID, a.id, b.id, owner); err != nil && !errors.Is(err, ErrNoSuchSession) {
						failUnlessDeadlockFree(t, "sessions page", err)
					}
				})
			}
			worker(func(i int) {
				if err := svc.detectReuse(ctx, pick(i+5).hash, owner); err != nil && !errors.Is(err, ErrRefreshReused) {
					failUnlessDeadlockFree(t, "reuse detection", err)
				}
			})
			wg.Wait()
			t.Logf("%d sessions and tokens made", len(seen))
		})
	}
}

// failUnlessDeadlockFree fails the test with err, saying so loudly when it
// is a deadlock.
func failUnlessDeadlockFree(t *testing.T, what string, err error) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "40P01" {
		t.Errorf("%s: DEADLOCK: %v", what, err)
		return
	}
	t.Errorf("%s: %v", what, err)
}
