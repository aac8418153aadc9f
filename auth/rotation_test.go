package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/sqlite"
	"tokenflow/store/storetest"
)

// The rotation policy's tests (rotation.go), run against the real SQLite
// store: the policy lives here once, so its cases do too; the store's
// contract suite (store/storetest) holds the primitives it runs on.
// Tests present hashes directly (rotate and detectReuse take hashes), so
// each case names its tokens; time moves through the injected clock.

// t0 is when every test starts; tests move their clock forward from it.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	idleTTL = time.Hour
	maxAge  = 24 * time.Hour
	grace   = 10 * time.Second
)

var (
	owner = store.Client{IP: "192.0.2.1", UserAgent: "owner-browser"}
	thief = store.Client{IP: "203.0.113.9", UserAgent: "thief-script"}
)

// rig is the service over a fresh SQLite store; both clocks read *now, so
// a case moves time by assigning to its own variable. No rate limit unless
// a case sets one.
type rig struct {
	*sqlite.Store
	svc    *Service
	issuer *recordingIssuer
}

func openRig(t *testing.T, now *time.Time) *rig {
	t.Helper()
	clock := func() time.Time { return *now }
	st := openSQLite(t, clock)
	issuer := newRecordingIssuer(t, clock)
	svc := NewService(Deps{Store: st, Issuer: issuer, Config: testPolicy, Now: clock})
	return &rig{Store: st, svc: svc, issuer: issuer}
}

func (r *rig) mustSession(t *testing.T, userID, refreshHash string) store.Session {
	t.Helper()
	return storetest.MustSession(t, r, userID, refreshHash)
}

// rotate runs the policy on the presented hash, replacing it with next.
func (r *rig) rotate(presented, next string, c store.Client) (store.Session, error) {
	out, err := r.svc.rotate(context.Background(), presented, next, c)
	return out.session, err
}

// rotateLimited is rotate under a refresh rate limit.
func (r *rig) rotateLimited(presented, next string, limit int, c store.Client) (store.Session, error) {
	r.svc.cfg.RefreshRateLimit = limit
	defer func() { r.svc.cfg.RefreshRateLimit = 0 }()
	return r.rotate(presented, next, c)
}

func (r *rig) mustRotate(t *testing.T, presented, next string) store.Session {
	t.Helper()
	sess, err := r.rotate(presented, next, owner)
	if err != nil {
		t.Fatalf("rotate %s -> %s: %v", presented, next, err)
	}
	return sess
}

// mustBeRevokedForReuse stops the test unless the session was revoked for
// refresh-token reuse.
func (r *rig) mustBeRevokedForReuse(t *testing.T, id string) {
	t.Helper()
	if got := storetest.MustSessionByID(t, r, id); got.RevokeReason != store.EventReuseDetected {
		t.Fatalf("session = %+v, want revoked for reuse", got)
	}
}

// refreshUnknown reports whether no unrotated refresh token has the hash.
func (r *rig) refreshUnknown(t *testing.T, hash string) bool {
	t.Helper()
	return storetest.RefreshUnknown(t, r, hash)
}

// The access token is signed inside the rotation's transaction, for the
// rotated session's user; when signing fails, nothing of the rotation is
// kept and the presented token stays current.
func TestRotationSigningFailureKeepsNothing(t *testing.T) {
	now := t0
	s := openRig(t, &now)
	alice := storetest.MustUser(t, s, "alice")
	sess := s.mustSession(t, alice.ID, "h1")
	now = now.Add(time.Minute)

	signing := errors.New("signing failed")
	s.issuer.fail = signing
	if _, err := s.rotate("h1", "h2", owner); !errors.Is(err, signing) {
		t.Fatalf("error = %v, want the signer's error", err)
	}
	if want := []string{alice.ID + "/" + sess.ID}; !slices.Equal(s.issuer.signedFor, want) {
		t.Errorf("signed for %v, want %v", s.issuer.signedFor, want)
	}
	if got := storetest.MustSessionByID(t, s, sess.ID); got != sess {
		t.Errorf("session after the failed signing = %+v, want it unchanged %+v", got, sess)
	}
	if !s.refreshUnknown(t, "h2") {
		t.Error("the new token was kept")
	}
	if kinds := storetest.EventKinds(t, s, sess.ID); len(kinds) != 1 {
		t.Errorf("events = %v, want only the login", kinds)
	}

	// Much later, h1 is still the current token, not a rotated one.
	s.issuer.fail = nil
	now = now.Add(time.Hour - time.Minute - time.Second)
	got, err := s.svc.rotate(context.Background(), "h1", "h2", owner)
	if err != nil {
		t.Fatalf("h1 after the failed signing: %v", err)
	}
	if got.access == "" || got.claims.SessionID != sess.ID || got.claims.Subject != alice.ID || !got.session.LastUsedAt.Equal(now) {
		t.Errorf("rotation = %+v, want a token for alice's rotated session", got)
	}
}

// TestRotationScenarios replays sequences of refreshes against a
// session created at t0 with refresh token h1.
func TestRotationScenarios(t *testing.T) {
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
				{advance: grace, presented: "h1", next: "hx", client: thief, wantErr: ErrRefreshReused},
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
				{presented: "h2b", next: "h3b", client: thief, wantErr: ErrRefreshReused},
			},
			wantKinds:   []string{store.EventReuseDetected, store.EventRefresh, store.EventRefreshGrace, store.EventRefresh, store.EventLogin},
			wantRevoked: store.EventReuseDetected,
		},
		{
			name: "nok, old token after grace revokes the session",
			steps: []step{
				{advance: time.Minute, presented: "h1", next: "h2"},
				{advance: grace + time.Millisecond, presented: "h1", next: "hx", client: thief, wantErr: ErrRefreshReused},
				{presented: "h2", next: "h3", wantErr: ErrSessionRevoked},
				{presented: "h1", next: "h3", wantErr: ErrSessionRevoked},
				{presented: "hx", next: "h3", wantErr: store.ErrRefreshUnknown},
			},
			wantKinds:   []string{store.EventReuseDetected, store.EventRefresh, store.EventLogin},
			wantRevoked: store.EventReuseDetected,
		},
		{
			name: "nok, idle expiry",
			steps: []step{
				{advance: idleTTL - time.Millisecond, presented: "h1", next: "h2"},
				{advance: idleTTL, presented: "h2", next: "h3", wantErr: ErrSessionExpired},
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
				return append(steps, step{advance: maxAge - 28*50*time.Minute, presented: prev, next: "late", wantErr: ErrSessionExpired})
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
			s := openRig(t, &now)
			sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
			for i, st := range tt.steps {
				now = now.Add(st.advance)
				c := st.client
				if c == (store.Client{}) {
					c = owner
				}
				if _, err := s.rotate(st.presented, st.next, c); !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d (%s -> %s at +%s): error = %v, want %v",
						i, st.presented, st.next, now.Sub(t0), err, st.wantErr)
				}
			}
			if got := storetest.EventKinds(t, s, sess.ID); !slices.Equal(got, tt.wantKinds) {
				t.Errorf("events = %v, want %v", got, tt.wantKinds)
			}
			if got := storetest.MustSessionByID(t, s, sess.ID).RevokeReason; got != tt.wantRevoked {
				t.Errorf("RevokeReason = %q, want %q", got, tt.wantRevoked)
			}
		})
	}
}

func TestRotationSlidesExpiry(t *testing.T) {
	now := t0
	s := openRig(t, &now)
	ctx := context.Background()
	created := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")

	now = t0.Add(10 * time.Minute)
	laptop := store.Client{IP: "198.51.100.7", UserAgent: "laptop"}
	got, err := s.rotate("h1", "h2", laptop)
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
	if stored := storetest.MustSessionByID(t, s, created.ID); stored != want {
		t.Errorf("stored session =\n%+v, want\n%+v", stored, want)
	}

	// The old token is used up; its replacement is current.
	if !s.refreshUnknown(t, "h1") {
		t.Error("the rotated token is still current")
	}
	if s2, err := s.SessionByRefreshHash(ctx, "h2"); err != nil || s2.ID != created.ID {
		t.Errorf("SessionByRefreshHash(h2) = %v, %v", s2.ID, err)
	}

	// Within grace: a sibling token. (That the old token keeps its first
	// use, so the window does not move, is rotateRefreshTokenScenarios'
	// "the window's last millisecond".)
	now = now.Add(3 * time.Second)
	if _, err := s.rotate("h1", "h2b", owner); err != nil {
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
		got := s.mustRotate(t, prev, next)
		prev = next
		wantIdle := earliest(now.Add(idleTTL), t0.Add(maxAge))
		if !got.IdleExpiresAt.Equal(wantIdle) || !got.AbsoluteExpiresAt.Equal(t0.Add(maxAge)) {
			t.Fatalf("at +%s: IdleExpiresAt = %v, AbsoluteExpiresAt = %v, want %v and %v",
				now.Sub(t0), got.IdleExpiresAt, got.AbsoluteExpiresAt, wantIdle, t0.Add(maxAge))
		}
	}
	if _, err := s.rotate(prev, "too-late", owner); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("after max age: error = %v, want ErrSessionExpired", err)
	}
}

func TestRotationReuseRevokesTheSession(t *testing.T) {
	now := t0
	s := openRig(t, &now)
	ctx := context.Background()
	sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
	s.mustRotate(t, "h1", "h2")
	s.mustRotate(t, "h2", "h3") // h3 is what the owner holds now

	now = now.Add(time.Minute)
	_, err := s.rotate("h1", "stolen-next", thief)
	var reused *RefreshReusedError
	if !errors.As(err, &reused) || reused.SessionID != sess.ID {
		t.Fatalf("reuse error = %v, want *RefreshReusedError for the session", err)
	}

	// Committed despite the error.
	stored := storetest.MustSessionByID(t, s, sess.ID)
	if !stored.RevokedAt.Equal(now) || stored.RevokeReason != store.EventReuseDetected {
		t.Errorf("stored session = %+v, want revoked for reuse", stored)
	}
	for _, h := range []string{"h3", "stolen-next"} {
		if !s.refreshUnknown(t, h) {
			t.Errorf("token %s still current after reuse", h)
		}
	}

	// The owner's newest token is dead too, and says why.
	_, err = s.rotate("h3", "h4", owner)
	var revoked *SessionRevokedError
	if !errors.As(err, &revoked) || revoked.SessionID != sess.ID {
		t.Fatalf("newest token error = %v, want *SessionRevokedError", err)
	}
	if revoked.Reason != store.EventReuseDetected {
		t.Errorf("Reason = %q, want %q", revoked.Reason, store.EventReuseDetected)
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

// TestRotationConcurrent has many tabs refresh with the same token
// at once: one rotates, the others land in the grace window, nobody logs out.
func TestRotationConcurrent(t *testing.T) {
	for _, workers := range []int{8, 32} {
		t.Run(fmt.Sprintf("%d goroutines", workers), func(t *testing.T) {
			now := t0
			s := openRig(t, &now)
			sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
			now = now.Add(time.Minute)

			storetest.AllAtOnce(t, "goroutine", workers, func(i int) error {
				_, err := s.rotate("h1", fmt.Sprintf("h2-%d", i), owner)
				return err
			})
			got := storetest.MustSessionByID(t, s, sess.ID)
			if !got.Active(now) {
				t.Errorf("session not active after concurrent refreshes: %+v", got)
			}
			kinds := storetest.EventKinds(t, s, sess.ID)
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
				if _, err := s.rotate(fmt.Sprintf("h2-%d", i), fmt.Sprintf("h3-%d", i), owner); err != nil {
					t.Errorf("new token %d: %v", i, err)
				}
			}
		})
	}
}

// TestRotationBatchedLikeSerial: three rotations of one token that queue
// behind a held transaction, so SQLite commits them in one group (one
// savepoint each), come out as three serial ones would: with no grace one
// rotation, one reuse (whose revocation is committed) and one refused on
// the revoked session; with a grace window one rotation and two forks.
// The outcome does not depend on whether they did queue: serial rotations
// give the same.
func TestRotationBatchedLikeSerial(t *testing.T) {
	for _, g := range []time.Duration{0, grace} {
		t.Run(fmt.Sprint("grace ", g), func(t *testing.T) {
			now := t0
			r := openRig(t, &now)
			r.svc.cfg.RefreshReuseGrace = g
			sess := r.mustSession(t, storetest.MustUser(t, r, "alice").ID, "h1")
			held, release := make(chan struct{}), make(chan struct{})
			holder := make(chan error, 1)
			go func() {
				holder <- r.InTx(context.Background(), func(store.Tx) error { close(held); <-release; return nil })
			}()
			<-held
			errs := make([]error, 3)
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Go(func() { _, errs[i] = r.rotate("h1", fmt.Sprintf("n%d", i), owner) })
			}
			time.Sleep(100 * time.Millisecond) // let the three queue behind the holder
			close(release)
			if err := <-holder; err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			var ok, reused, revoked int
			for _, err := range errs {
				var re *RefreshReusedError
				var rv *SessionRevokedError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &re):
					reused++
				case errors.As(err, &rv):
					revoked++
				default:
					t.Errorf("unexpected %v", err)
				}
			}
			if g == 0 {
				if ok != 1 || reused != 1 || revoked != 1 {
					t.Errorf("no grace: %d rotated, %d reused, %d revoked; want 1 1 1 (events %v)", ok, reused, revoked, storetest.EventKinds(t, r, sess.ID))
				}
				r.mustBeRevokedForReuse(t, sess.ID)
			} else if ok != 3 {
				t.Errorf("grace %v: %d ok, want 3 (one rotation, two forks): %v", g, ok, errs)
			}
		})
	}
}

// A token replayed inside the grace window must not buy a second chain that
// lives on undetected: the next normal rotation retires the sibling, and the
// sibling coming back after the grace window is reuse.
func TestRotationGraceSiblingCannotForkTheSession(t *testing.T) {
	now := t0
	s := openRig(t, &now)
	sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
	s.mustRotate(t, "h1", "owner-2") // the owner rotates

	now = now.Add(grace / 2)
	if _, err := s.rotate("h1", "thief-2", thief); err != nil { // a replay inside the grace window
		t.Fatalf("replay within grace: %v", err)
	}
	now = now.Add(time.Minute)
	s.mustRotate(t, "owner-2", "owner-3") // the owner's branch goes on and retires the sibling

	now = now.Add(time.Minute)
	if _, err := s.rotate("thief-2", "thief-3", thief); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("sibling after the owner rotated: %v, want ErrRefreshReused", err)
	}
	s.mustBeRevokedForReuse(t, sess.ID)
}

// The grace window forgives a replay only until the deadline of the
// rotation that forked the session; a retired branch never gets a new one.
// Two parties share one session: the rotator refreshes normally every
// `every`, and the replayer presents its newest token one second after each
// of those rotations (its token was retired by them). The replay must be
// forgiven only before the original fork's deadline, and the first replay
// at or after it must revoke the session.
func TestGraceWindowCannotBeChained(t *testing.T) {
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
			s := openRig(t, &now)
			sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")

			now = now.Add(time.Minute)
			forkDeadline := now.Add(grace)
			s.mustRotate(t, "h1", "successor") // the owner rotates; a thief has a copy of h1
			now = now.Add(time.Second)
			if _, err := s.rotate("h1", "sibling", thief); err != nil {
				t.Fatalf("replay of h1 inside its window: %v", err)
			}
			rotatorToken, replayerToken := "successor", "sibling"
			if tt.siblingRotates {
				rotatorToken, replayerToken = "sibling", "successor"
			}

			for i := 1; i <= 10; i++ {
				now = now.Add(tt.every)
				next := fmt.Sprintf("rotator-%d", i)
				if _, err := s.rotate(rotatorToken, next, owner); err != nil {
					if errors.Is(err, ErrSessionRevoked) && now.After(forkDeadline) {
						break // revoked by the replayer's previous attempt, as it must be
					}
					t.Fatalf("rotation %d at +%s: %v", i, now.Sub(t0), err)
				}
				rotatorToken = next

				now = now.Add(time.Second)
				replayed := fmt.Sprintf("replayer-%d", i)
				_, err := s.rotate(replayerToken, replayed, thief)
				if now.Before(forkDeadline) {
					if err != nil {
						t.Fatalf("replay %d before the fork's deadline: %v", i, err)
					}
					replayerToken = replayed
					continue
				}
				if !errors.Is(err, ErrRefreshReused) {
					t.Fatalf("replay %d at +%s, after the fork's deadline +%s: error = %v, want ErrRefreshReused",
						i, now.Sub(t0), forkDeadline.Sub(t0), err)
				}
				break
			}
			got := storetest.MustSessionByID(t, s, sess.ID)
			if got.RevokeReason != store.EventReuseDetected {
				t.Fatalf("session after ten rotations = %+v, want it revoked for reuse", got)
			}
			if _, err := s.rotate(rotatorToken, "after", owner); !errors.Is(err, ErrSessionRevoked) {
				t.Errorf("the rotator's newest token after the revocation: %v, want ErrSessionRevoked", err)
			}
		})
	}
}

// A grace sibling issued near the end of the window gets no window of its
// own once a normal rotation retires it.
func TestRetiredSiblingKeepsTheForkDeadline(t *testing.T) {
	now := t0
	s := openRig(t, &now)
	s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
	s.mustRotate(t, "h1", "h2") // fork deadline t0+grace
	now = now.Add(grace - time.Millisecond)
	if _, err := s.rotate("h1", "h2b", owner); err != nil {
		t.Fatalf("replay just inside the window: %v", err)
	}
	s.mustRotate(t, "h2", "h3") // retires h2b
	now = now.Add(time.Millisecond)
	if _, err := s.rotate("h2b", "h3b", thief); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("retired sibling at the fork's deadline: %v, want ErrRefreshReused", err)
	}
}

// With REFRESH_REUSE_GRACE=0 nothing is forgiven, not even a replay in the
// same millisecond.
func TestZeroGraceIsStrict(t *testing.T) {
	now := t0
	s := openRig(t, &now)
	sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
	s.svc.cfg.RefreshReuseGrace = 0
	strict := func(presented, next string) error {
		_, err := s.rotate(presented, next, owner)
		return err
	}
	if err := strict("h1", "h2"); err != nil {
		t.Fatal(err)
	}
	if err := strict("h1", "h2b"); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("replay at the same instant with grace 0: %v, want ErrRefreshReused", err)
	}
	s.mustBeRevokedForReuse(t, sess.ID)
}

// DetectReuse applies the reuse rule to a token presented where it
// is not rotated (logout): a rotated token at or after its grace deadline
// revokes its session; anything else changes nothing.
func TestDetectReuseAppliesTheRefreshRule(t *testing.T) {
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
			s := openRig(t, &now)
			sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
			s.mustRotate(t, "h1", "h2")
			now = now.Add(tt.after)
			eventsBefore := len(storetest.EventKinds(t, s, sess.ID))

			err := s.svc.detectReuse(context.Background(), tt.presented, owner)
			if !tt.revokes {
				if err != nil {
					t.Fatalf("detectReuse: %v, want nil", err)
				}
				if after := storetest.MustSessionByID(t, s, sess.ID); after.Revoked() || len(storetest.EventKinds(t, s, sess.ID)) != eventsBefore {
					t.Fatalf("session %+v, events %v: want nothing changed", after, storetest.EventKinds(t, s, sess.ID))
				}
				return
			}
			var reused *RefreshReusedError
			if !errors.As(err, &reused) || reused.SessionID != sess.ID {
				t.Fatalf("detectReuse = %v; want *RefreshReusedError for the session", err)
			}
			s.mustBeRevokedForReuse(t, sess.ID)
			if _, err := s.rotate("h2", "h3", thief); !errors.Is(err, ErrSessionRevoked) {
				t.Errorf("the current token after the reuse: %v, want ErrSessionRevoked", err)
			}
			// A second report finds the session already revoked and adds nothing.
			events := len(storetest.EventKinds(t, s, sess.ID))
			if err := s.svc.detectReuse(context.Background(), tt.presented, owner); err != nil {
				t.Errorf("second detectReuse: %v, want nil", err)
			}
			if n := len(storetest.EventKinds(t, s, sess.ID)); n != events {
				t.Errorf("events went from %d to %d on a revoked session", events, n)
			}
		})
	}
}

// Past RateLimit refreshes of one session in a minute, a refresh writes
// nothing and says when to come back; the session is unharmed.
func TestRotationRateLimit(t *testing.T) {
	const limit = 3
	now := t0
	s := openRig(t, &now)
	sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h0")

	// limit refreshes, 100 ms apart, one of them a grace replay: all count.
	token := "h0"
	for i := 1; i <= limit; i++ {
		now = now.Add(100 * time.Millisecond)
		presented := token
		if i == limit {
			presented = fmt.Sprintf("h%d", i-2) // the previous token again, inside its window
		}
		token = fmt.Sprintf("h%d", i)
		if _, err := s.rotateLimited(presented, token, limit, owner); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	eventsBefore := len(storetest.EventKinds(t, s, sess.ID))

	now = now.Add(100 * time.Millisecond)
	firstAt := t0.Add(100 * time.Millisecond)
	_, err := s.rotateLimited(token, "over", limit, owner)
	var limited *RateLimitedError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &limited) || limited.SessionID != sess.ID {
		t.Fatalf("refresh %d: %v, want *RateLimitedError", limit+1, err)
	}
	if want := firstAt.Add(time.Minute).Sub(now); limited.RetryAfter != want {
		t.Errorf("RetryAfter = %v, want %v (when the oldest counted refresh leaves the minute)", limited.RetryAfter, want)
	}
	if !s.refreshUnknown(t, "over") {
		t.Error("a limited refresh stored its new token")
	}
	if s.refreshUnknown(t, token) {
		t.Error("a limited refresh used up the presented token")
	}
	if n := len(storetest.EventKinds(t, s, sess.ID)); n != eventsBefore {
		t.Errorf("events went from %d to %d: a limited refresh recorded one", eventsBefore, n)
	}
	if got := storetest.MustSessionByID(t, s, sess.ID); !got.Active(now) {
		t.Fatalf("session after the limit: %+v, want it alive", got)
	}

	// A minute after the first counted refresh, the newest token refreshes.
	now = firstAt.Add(time.Minute)
	if _, err := s.rotateLimited(token, "later", limit, owner); err != nil {
		t.Fatalf("refresh a minute later: %v", err)
	}
}

// Reuse is detected even past the limit: a token presented after its
// window is theft whatever the rate.
func TestRotationRateLimitDoesNotHideReuse(t *testing.T) {
	now := t0
	s := openRig(t, &now)
	sess := s.mustSession(t, storetest.MustUser(t, s, "alice").ID, "h1")
	if _, err := s.rotateLimited("h1", "h2", 1, owner); err != nil {
		t.Fatal(err)
	}
	now = now.Add(grace)
	if _, err := s.rotateLimited("h1", "x", 1, thief); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("replay after the window, over the limit: %v, want ErrRefreshReused", err)
	}
	s.mustBeRevokedForReuse(t, sess.ID)
}
