package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/postgres"
	"tokenflow/store/postgres/pgtest"
	"tokenflow/store/storetest"
)

// The session cap's tests (sessions.go), run against the real stores: the
// policy lives here once, above every backend, so its cases do too, on
// SQLite always and on PostgreSQL when TEST_DATABASE_URL is set. The
// primitives it runs on (Tx.CreateSession, Tx.LiveSessions, ...) are held
// to their contract in store/storetest.

// capBackends opens a fresh store of each backend whose clock reads *now.
var capBackends = []struct {
	name string
	open func(t *testing.T, now *time.Time) store.Store
}{
	{"sqlite", func(t *testing.T, now *time.Time) store.Store {
		return openSQLite(t, func() time.Time { return *now })
	}},
	{"postgres", func(t *testing.T, now *time.Time) store.Store {
		st, err := postgres.Open(context.Background(), pgtest.FreshURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		st.Now = func() time.Time { return *now }
		return st
	}},
}

func TestSessionCap(t *testing.T) {
	for _, b := range capBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("ends the least recently used past the cap", func(t *testing.T) {
				capEndsTheLeastRecentlyUsed(t, b.open)
			})
			t.Run("holds under concurrency", func(t *testing.T) {
				capHoldsUnderConcurrency(t, b.open)
			})
		})
	}
}

// newcomer is the client of the login that goes past the cap.
var newcomer = store.Client{IP: "198.51.100.20", UserAgent: "new-browser"}

// capped creates a session under a cap of max live sessions per user, by
// the policy in one transaction as startSession runs it.
func capped(t *testing.T, s store.Store, userID, refreshHash string, max int) (store.Session, error) {
	t.Helper()
	ctx := context.Background()
	var sess store.Session
	err := s.InTx(ctx, func(tx store.Tx) error {
		var err error
		sess, _, err = createCappedSession(ctx, tx, store.NewSession{
			UserID:      userID,
			RefreshHash: refreshHash,
			IdleTTL:     idleTTL,
			MaxAge:      maxAge,
			Client:      newcomer,
		}, max)
		return err
	})
	return sess, err
}

func mustCapped(t *testing.T, s store.Store, userID, refreshHash string, max int) store.Session {
	t.Helper()
	sess, err := capped(t, s, userID, refreshHash, max)
	if err != nil {
		t.Fatalf("createCappedSession(%s): %v", refreshHash, err)
	}
	return sess
}

func activeIDs(t *testing.T, s store.Store, userID string) []string {
	t.Helper()
	active, err := s.ActiveSessions(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sess := range active {
		ids = append(ids, sess.ID)
	}
	slices.Sort(ids)
	return ids
}

func sortedIDs(sessions ...store.Session) []string {
	var ids []string
	for _, sess := range sessions {
		ids = append(ids, sess.ID)
	}
	slices.Sort(ids)
	return ids
}

// A login past the cap ends the least recently used live session, in the
// transaction that creates the new one, with an evicted event.
func capEndsTheLeastRecentlyUsed(t *testing.T, open func(*testing.T, *time.Time) store.Store) {
	now := t0
	s := open(t, &now)
	ctx := context.Background()
	alice := storetest.MustUser(t, s, "alice")
	bob := storetest.MustUser(t, s, "bob")

	first := mustCapped(t, s, alice.ID, "a1", 3)
	now = now.Add(time.Minute)
	second := mustCapped(t, s, alice.ID, "a2", 3)
	now = now.Add(time.Minute)
	third := mustCapped(t, s, alice.ID, "a3", 3)
	bobs := mustCapped(t, s, bob.ID, "b1", 3)
	now = now.Add(time.Minute)
	storetest.UseToken(t, s, "a1", "a1-next") // the oldest login is the one in use
	now = now.Add(time.Minute)

	fourth := mustCapped(t, s, alice.ID, "a4", 3)
	if got, want := activeIDs(t, s, alice.ID), sortedIDs(first, third, fourth); !slices.Equal(got, want) {
		t.Fatalf("active %v, want %v: the least recently used (%s) should have ended", got, want, second.ID)
	}
	ended := storetest.MustSessionByID(t, s, second.ID)
	if ended.RevokeReason != store.EventEvicted || !ended.RevokedAt.Equal(now) {
		t.Errorf("ended session %+v, want revoked now as %q", ended, store.EventEvicted)
	}
	events, err := s.SessionEvents(ctx, second.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Kind != store.EventEvicted || events[0].IP != newcomer.IP ||
		!strings.Contains(events[0].Detail, fourth.ID) || !strings.Contains(events[0].Detail, "3") {
		t.Errorf("events %+v, want evicted (by the new login, naming it and the cap) then login", events)
	}
	if byHash, err := s.SessionByRefreshHash(ctx, "a2"); err == nil && byHash.Active(now) {
		t.Error("the ended session's refresh token still names a live session")
	}
	if got := activeIDs(t, s, bob.ID); !slices.Equal(got, sortedIDs(bobs)) {
		t.Errorf("bob's sessions %v: another account's login ended them", got)
	}

	t.Run("revoked and expired sessions do not count", func(t *testing.T) {
		carol := storetest.MustUser(t, s, "carol")
		gone := mustCapped(t, s, carol.ID, "c1", 2)
		storetest.Revoke(t, s, gone.ID, store.EventLogout)
		c2 := mustCapped(t, s, carol.ID, "c2", 2)
		now = now.Add(idleTTL) // c2 expires
		c3 := mustCapped(t, s, carol.ID, "c3", 2)
		c4 := mustCapped(t, s, carol.ID, "c4", 2)
		if got := activeIDs(t, s, carol.ID); !slices.Equal(got, sortedIDs(c3, c4)) {
			t.Errorf("active %v, want c3 and c4", got)
		}
		for _, sess := range []store.Session{gone, c2, c3, c4} {
			if kinds := storetest.EventKinds(t, s, sess.ID); slices.Contains(kinds, store.EventEvicted) {
				t.Errorf("session %s events %v, want no eviction", sess.ID, kinds)
			}
		}
	})

	t.Run("an account far past the cap is brought back to it at once", func(t *testing.T) {
		dave := storetest.MustUser(t, s, "dave")
		var old []store.Session
		for i := range 6 {
			now = now.Add(time.Second)
			old = append(old, mustCapped(t, s, dave.ID, fmt.Sprintf("d%d", i), 0)) // 0: no cap (sessions from before it)
		}
		now = now.Add(time.Second)
		newest := mustCapped(t, s, dave.ID, "d-new", 2)
		if got := activeIDs(t, s, dave.ID); !slices.Equal(got, sortedIDs(old[5], newest)) {
			t.Errorf("active %v, want the newest old one and the new one", got)
		}
	})

	t.Run("nok, a failed login ends nothing", func(t *testing.T) {
		before := activeIDs(t, s, alice.ID)
		if _, err := capped(t, s, alice.ID, "a3", 3); err == nil { // a3 is taken: the insert fails
			t.Fatal("CreateSession with a hash already in use succeeded")
		}
		if got := activeIDs(t, s, alice.ID); !slices.Equal(got, before) {
			t.Errorf("active %v, want %v: the eviction was not rolled back", got, before)
		}
	})
}

// Logins racing for one account never leave more than the cap alive.
func capHoldsUnderConcurrency(t *testing.T, open func(*testing.T, *time.Time) store.Store) {
	now := t0
	s := open(t, &now)
	alice := storetest.MustUser(t, s, "alice")
	const workers, max = 16, 3
	var wg sync.WaitGroup
	errs := make([]error, workers)
	created := make([]store.Session, workers)
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			created[i], errs[i] = capped(t, s, alice.ID, fmt.Sprintf("h%d", i), max)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("login %d: %v", i, err)
		}
	}
	if got := len(activeIDs(t, s, alice.ID)); got != max {
		t.Errorf("%d live sessions, want %d", got, max)
	}
	evicted := 0
	for _, sess := range created {
		if storetest.MustSessionByID(t, s, sess.ID).RevokeReason == store.EventEvicted {
			evicted++
		}
	}
	if evicted != workers-max {
		t.Errorf("%d evicted, want %d", evicted, workers-max)
	}
}

// A login (startSession, under Login and Register) runs the cap with the
// configured MaxSessionsPerUser, and 0 leaves sessions uncapped.
func TestStartSessionAppliesTheConfiguredCap(t *testing.T) {
	for _, tc := range []struct {
		name      string
		max, want int
	}{
		{"ok, a cap of 2", 2, 2},
		{"ok, 0 is no cap", 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			r := openRig(t, &now)
			r.svc.cfg.MaxSessionsPerUser = tc.max
			alice := storetest.MustUser(t, r, "alice")
			var first store.Session
			for i := range 3 {
				now = now.Add(time.Minute)
				res, err := r.svc.startSession(context.Background(), alice, owner)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = res.Session
				}
			}
			if got := len(activeIDs(t, r.Store, alice.ID)); got != tc.want {
				t.Errorf("%d live sessions, want %d", got, tc.want)
			}
			if evicted := storetest.MustSessionByID(t, r.Store, first.ID).RevokeReason == store.EventEvicted; evicted != (tc.max > 0) {
				t.Errorf("first session evicted: %v, want %v", evicted, tc.max > 0)
			}
		})
	}
}

// A login past MaxSessionsPerUser (2 here) ends the least recently used
// session, and that counts as a revocation for evicted; a login that
// evicts nothing counts none.
func TestObserverCountsEvictions(t *testing.T) {
	obs := &countingObserver{}
	f := newFixture(t, func(d *Deps) { d.Observer = obs })
	ctx := context.Background()
	first := f.register(t, "ada")
	for range 2 {
		f.clock.Advance(time.Second)
		if _, err := f.svc.Login(ctx, "ada", pw, client); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Refresh(ctx, first.RefreshToken, client); err == nil || RefreshOutcomeOf(Result{}, err) != RefreshRevoked {
		t.Fatalf("the evicted session refreshed: %v", err)
	}
	got := obs.snapshot()
	if got["revoked "+store.EventEvicted] != 1 {
		t.Errorf("observed %v, want one revocation for %s", got, store.EventEvicted)
	}
}
