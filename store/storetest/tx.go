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

// The transaction seam: InTx and the store.Tx primitives the rotation
// policy (auth) composes. Each primitive is checked for its one effect and
// for leaving everything else alone.

// inTx runs fn in a transaction and fails the test when it fails.
func inTx(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.InTx(context.Background(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// MustToken reads the token with the hash through TokenForUpdate.
func MustToken(t *testing.T, s store.Store, hash string) store.RefreshToken {
	t.Helper()
	var tok store.RefreshToken
	inTx(t, s, func(tx store.Tx) (err error) {
		tok, _, _, err = tx.TokenForUpdate(context.Background(), hash)
		return err
	})
	return tok
}

// Rotate replaces the token presented by next in tx the way a refresh
// writes it (presented used now, with no forgiveness), with none of the
// policy, and returns the token's session as it was. afterLock, when not
// nil, runs once the token is locked: a backend's fault tests break the
// database there.
func Rotate(ctx context.Context, tx store.Tx, presented, next string, afterLock func()) (store.Session, error) {
	tok, sess, _, err := tx.TokenForUpdate(ctx, presented)
	if err != nil {
		return store.Session{}, err
	}
	if afterLock != nil {
		afterLock()
	}
	id, err := tx.InsertRefreshToken(ctx, sess.ID, next, time.Time{})
	if err != nil {
		return store.Session{}, err
	}
	return sess, tx.MarkRefreshTokenUsed(ctx, tok.ID, id, tx.Now(), tx.Now())
}

// UseToken rotates presented to next (Rotate) and marks the session used
// now: setup for a backend's own tests that need a used token or a
// recently used session. It returns the session as written.
func UseToken(t *testing.T, s store.Store, presented, next string) store.Session {
	t.Helper()
	ctx := context.Background()
	var sess store.Session
	inTx(t, s, func(tx store.Tx) (err error) {
		if sess, err = Rotate(ctx, tx, presented, next, nil); err != nil {
			return err
		}
		sess.LastUsedAt = tx.Now()
		return tx.SetSessionUse(ctx, sess)
	})
	return sess
}

// withAlice opens a fresh store whose clock reads *now, with the user
// alice.
func (c contract) withAlice(t *testing.T, now *time.Time) (store.Store, store.User) {
	t.Helper()
	s := c.open(t, now)
	return s, MustUser(t, s, "alice")
}

// twoSessions opens a fresh store whose clock reads *now, with the user
// alice and two sessions of hers: sess (its token h1) and other (its token
// "other").
func (c contract) twoSessions(t *testing.T, now *time.Time) (s store.Store, alice store.User, sess, other store.Session) {
	t.Helper()
	s, alice = c.withAlice(t, now)
	return s, alice, MustSession(t, s, alice.ID, "h1"), MustSession(t, s, alice.ID, "other")
}

// Revoke ends the session as reason now, the way a logout writes it (its
// tokens left as they are, no event), with none of the policy: setup for
// cases and a backend's own tests that need a revoked session.
func Revoke(t *testing.T, s store.Store, sessionID, reason string) {
	t.Helper()
	inTx(t, s, func(tx store.Tx) error {
		return tx.RevokeSession(context.Background(), sessionID, reason, tx.Now())
	})
}

// What InTx commits is there afterwards, and Tx.Now is the store's clock.
func (c contract) inTxCommits(t *testing.T) {
	now := T0.Add(time.Minute)
	s := c.open(t, &now)
	ctx := context.Background()
	sess := MustSession(t, s, MustUser(t, s, "alice").ID, "h1")
	inTx(t, s, func(tx store.Tx) error {
		if !tx.Now().Equal(now) {
			t.Errorf("Tx.Now = %v, want the store's clock %v", tx.Now(), now)
		}
		if _, err := tx.InsertRefreshToken(ctx, sess.ID, "h2", time.Time{}); err != nil {
			return err
		}
		return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: sess.UserID, Kind: store.EventRefresh, At: now, IP: Owner.IP})
	})
	if got, err := s.SessionByRefreshHash(ctx, "h2"); err != nil || got.ID != sess.ID {
		t.Errorf("SessionByRefreshHash(h2) = %+v, %v; want the committed token's session", got, err)
	}
	events, err := s.SessionEvents(ctx, sess.ID, 1)
	if err != nil || len(events) != 1 || events[0].Kind != store.EventRefresh || events[0].IP != Owner.IP || !events[0].At.Equal(now) {
		t.Errorf("newest event = %+v, %v; want the committed refresh", events, err)
	}
}

// writeEverything makes every kind of write a Tx can, to the session of h1.
func writeEverything(ctx context.Context, tx store.Tx, sess store.Session) error {
	tok, _, _, err := tx.TokenForUpdate(ctx, "h1")
	if err != nil {
		return err
	}
	id, err := tx.InsertRefreshToken(ctx, sess.ID, "h2", tx.Now().Add(time.Second))
	if err != nil {
		return err
	}
	if err := tx.MarkRefreshTokenUsed(ctx, tok.ID, id, tx.Now(), tx.Now().Add(time.Second)); err != nil {
		return err
	}
	if err := tx.CapLiveTokenGrace(ctx, sess.ID, tx.Now()); err != nil {
		return err
	}
	if err := tx.RetireLiveTokens(ctx, sess.ID, 0, tx.Now()); err != nil {
		return err
	}
	moved := sess
	moved.LastUsedAt, moved.IdleExpiresAt, moved.IP = tx.Now(), tx.Now().Add(time.Minute), "198.51.100.1"
	if err := tx.SetSessionUse(ctx, moved); err != nil {
		return err
	}
	if err := tx.RevokeSessionAndTokens(ctx, sess.ID, store.EventReuseDetected, tx.Now()); err != nil {
		return err
	}
	return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: sess.UserID, Kind: store.EventReuseDetected, At: tx.Now()})
}

// assertUntouched checks that the session of h1 is as created: no write of
// a failed transaction is left.
func assertUntouched(t *testing.T, s store.Store, sess store.Session) {
	t.Helper()
	if got := MustSessionByID(t, s, sess.ID); got != sess {
		t.Errorf("session = %+v, want it as it was %+v", got, sess)
	}
	if tok := MustToken(t, s, "h1"); tok.Used() || !tok.GraceUntil.IsZero() {
		t.Errorf("h1 = %+v, want it current with no deadline", tok)
	}
	if !RefreshUnknown(t, s, "h2") {
		t.Error("the inserted token was kept")
	}
	if kinds := EventKinds(t, s, sess.ID); !slices.Equal(kinds, []string{store.EventLogin}) {
		t.Errorf("events = %v, want only the login", kinds)
	}
}

// When fn fails, nothing it wrote is kept and its error comes back as it is.
func (c contract) inTxRollsBackOnError(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	sess := MustSession(t, s, MustUser(t, s, "alice").ID, "h1")
	ctx := context.Background()
	refused := errors.New("refused after writing")
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := writeEverything(ctx, tx, sess); err != nil {
			t.Errorf("writes: %v", err)
		}
		return fmt.Errorf("policy: %w", refused)
	})
	if !errors.Is(err, refused) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	assertUntouched(t, s, sess)
}

// A panic in fn rolls back too, and the store goes on working.
func (c contract) inTxRollsBackOnPanic(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	sess := MustSession(t, s, MustUser(t, s, "alice").ID, "h1")
	ctx := context.Background()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want fn's panic", r)
			}
		}()
		s.InTx(ctx, func(tx store.Tx) error {
			if err := writeEverything(ctx, tx, sess); err != nil {
				t.Errorf("writes: %v", err)
			}
			panic("boom")
		})
	}()
	assertUntouched(t, s, sess)
	UseToken(t, s, "h1", "h2") // the lock is free again
}

// rotateOneTokenOnce races transactions, spread over stores (instances on
// one database), to rotate one refresh token. Transactions on one token
// run one after the other: each sees what the previous one committed, so
// of many that read the token and replace it when current, exactly one
// replaces it and every other sees it used; only its successor is stored.
func rotateOneTokenOnce(t *testing.T, stores ...store.Store) {
	sess := MustSession(t, stores[0], MustUser(t, stores[0], "alice").ID, "h1")
	ctx := context.Background()
	const workers = 16
	var (
		mu      sync.Mutex
		winners []int
	)
	AllAtOnce(t, "transaction", workers, func(i int) error {
		return stores[i%len(stores)].InTx(ctx, func(tx store.Tx) error {
			tok, _, _, err := tx.TokenForUpdate(ctx, "h1")
			if err != nil || tok.Used() {
				return err
			}
			id, err := tx.InsertRefreshToken(ctx, sess.ID, fmt.Sprintf("h2-%d", i), time.Time{})
			if err != nil {
				return err
			}
			if err := tx.MarkRefreshTokenUsed(ctx, tok.ID, id, tx.Now(), tx.Now()); err != nil {
				return err
			}
			mu.Lock()
			winners = append(winners, i)
			mu.Unlock()
			return nil
		})
	})
	if len(winners) != 1 {
		t.Fatalf("%d transactions on %d instances found h1 current (%v), want exactly 1", len(winners), len(stores), winners)
	}
	for i := range workers {
		for j, s := range stores {
			if unknown := RefreshUnknown(t, s, fmt.Sprintf("h2-%d", i)); unknown == (i == winners[0]) {
				t.Errorf("instance %d: token h2-%d unknown %v, want only the winner's stored", j, i, unknown)
			}
		}
	}
}

// serializeOneSession rotates branches of one session at once, in
// transactions spread over stores. Transactions through different tokens
// of one session run one after the other too: each reads the session
// through its own token and moves its last use on by a millisecond, and no
// move is lost.
func serializeOneSession(t *testing.T, stores ...store.Store) {
	sess := MustSession(t, stores[0], MustUser(t, stores[0], "alice").ID, "branch-0")
	ctx := context.Background()
	const branches, perBranch = 4, 4
	inTx(t, stores[len(stores)-1], func(tx store.Tx) error {
		for b := 1; b < branches; b++ {
			if _, err := tx.InsertRefreshToken(ctx, sess.ID, fmt.Sprintf("branch-%d", b), time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
	const moves = branches * perBranch
	AllAtOnce(t, "transaction", moves, func(i int) error {
		return stores[(i/branches)%len(stores)].InTx(ctx, func(tx store.Tx) error {
			_, got, _, err := tx.TokenForUpdate(ctx, fmt.Sprintf("branch-%d", i%branches))
			if err != nil {
				return err
			}
			got.LastUsedAt = got.LastUsedAt.Add(time.Millisecond)
			return tx.SetSessionUse(ctx, got)
		})
	})
	want := T0.Add(moves * time.Millisecond)
	for j, s := range stores {
		if got := MustSessionByID(t, s, sess.ID).LastUsedAt; !got.Equal(want) {
			t.Errorf("instance %d: LastUsedAt = %v, want %v: %d moves were lost", j, got, want, want.Sub(got)/time.Millisecond)
		}
	}
}

// TokenForUpdate finds a token used or not, with its session and user, in
// whatever state the session is.
func (c contract) tokenForUpdate(t *testing.T) {
	now := T0
	s, alice := c.withAlice(t, &now)
	ctx := context.Background()
	sess := MustSession(t, s, alice.ID, "h1")

	inTx(t, s, func(tx store.Tx) error {
		tok, gotSess, gotUser, err := tx.TokenForUpdate(ctx, "h1")
		if err != nil {
			return err
		}
		if tok.ID == 0 || tok.SessionID != sess.ID || tok.Hash != "h1" || !tok.CreatedAt.Equal(T0) || tok.Used() || !tok.GraceUntil.IsZero() {
			t.Errorf("token = %+v, want h1 of the session, current, created at T0", tok)
		}
		if gotSess != sess || gotUser != alice {
			t.Errorf("session, user = %+v, %+v; want %+v, %+v", gotSess, gotUser, sess, alice)
		}
		if _, _, _, err := tx.TokenForUpdate(ctx, "nope"); !errors.Is(err, store.ErrRefreshUnknown) {
			t.Errorf("unknown hash: %v, want ErrRefreshUnknown", err)
		}
		return nil
	})

	now = now.Add(time.Minute)
	UseToken(t, s, "h1", "h2")
	Revoke(t, s, sess.ID, store.EventLogout)
	tok := MustToken(t, s, "h1")
	if !tok.UsedAt.Equal(now) || !tok.GraceUntil.Equal(now) {
		t.Errorf("used token = %+v, want used and its deadline at %v", tok, now)
	}
	inTx(t, s, func(tx store.Tx) error {
		_, gotSess, _, err := tx.TokenForUpdate(ctx, "h2")
		if err == nil && gotSess.RevokeReason != store.EventLogout {
			t.Errorf("session of h2 = %+v, want it revoked by logout", gotSess)
		}
		return err
	})
}

// An empty or already stored hash is refused.
func (c contract) insertRefreshTokenRefusesDuplicates(t *testing.T) {
	now := T0
	s, _, sess, other := c.twoSessions(t, &now)
	ctx := context.Background()
	for _, hash := range []string{"", "h1", "other"} {
		err := s.InTx(ctx, func(tx store.Tx) error {
			_, err := tx.InsertRefreshToken(ctx, sess.ID, hash, time.Time{})
			return err
		})
		if err == nil {
			t.Errorf("InsertRefreshToken(%q) succeeded", hash)
		}
	}
	if got, err := s.SessionByRefreshHash(ctx, "other"); err != nil || got.ID != other.ID {
		t.Errorf("other's token now names %+v, %v", got, err)
	}
}

// RetireLiveTokens marks every current token of the session but one used,
// keeps their deadlines, and touches neither used tokens nor other sessions.
func (c contract) retireLiveTokensKeepsDeadlines(t *testing.T) {
	now := T0
	s, _, sess, _ := c.twoSessions(t, &now)
	ctx := context.Background()
	deadline := T0.Add(5 * time.Second)
	var keep int64
	inTx(t, s, func(tx store.Tx) (err error) {
		if _, err = tx.InsertRefreshToken(ctx, sess.ID, "sibling", deadline); err != nil {
			return err
		}
		keep, err = tx.InsertRefreshToken(ctx, sess.ID, "kept", time.Time{})
		return err
	})
	now = now.Add(time.Second)
	UseToken(t, s, "h1", "h2") // h1 used at +1s, deadline +1s
	h1 := MustToken(t, s, "h1")
	now = now.Add(time.Second)
	inTx(t, s, func(tx store.Tx) error { return tx.RetireLiveTokens(ctx, sess.ID, keep, tx.Now()) })

	if got := MustToken(t, s, "sibling"); !got.UsedAt.Equal(now) || !got.GraceUntil.Equal(deadline) {
		t.Errorf("sibling = %+v, want used now with its deadline %v", got, deadline)
	}
	if got := MustToken(t, s, "h2"); !got.UsedAt.Equal(now) || !got.GraceUntil.IsZero() {
		t.Errorf("h2 = %+v, want used now with no deadline", got)
	}
	if got := MustToken(t, s, "h1"); got != h1 {
		t.Errorf("used h1 = %+v, want it untouched %+v", got, h1)
	}
	if got := MustToken(t, s, "kept"); got.Used() {
		t.Errorf("kept = %+v, want it current", got)
	}
	if got := MustToken(t, s, "other"); got.Used() {
		t.Errorf("another session's token = %+v, want it current", got)
	}
}

// CapLiveTokenGrace lowers the deadlines of current tokens, never raises
// one, and leaves used tokens and other sessions alone.
func (c contract) capLiveTokenGrace(t *testing.T) {
	now := T0
	s, alice := c.withAlice(t, &now)
	ctx := context.Background()
	sess := MustSession(t, s, alice.ID, "none")
	MustSession(t, s, alice.ID, "elsewhere")
	deadline := T0.Add(10 * time.Second)
	earlier, later := deadline.Add(-time.Second), deadline.Add(time.Second)
	inTx(t, s, func(tx store.Tx) error {
		for hash, d := range map[string]time.Time{"later": later, "earlier": earlier, "used": later} {
			if _, err := tx.InsertRefreshToken(ctx, sess.ID, hash, d); err != nil {
				return err
			}
		}
		tok, _, _, err := tx.TokenForUpdate(ctx, "used")
		if err != nil {
			return err
		}
		return tx.MarkRefreshTokenUsed(ctx, tok.ID, tok.ID, tx.Now(), later)
	})
	inTx(t, s, func(tx store.Tx) error { return tx.CapLiveTokenGrace(ctx, sess.ID, deadline) })
	for hash, want := range map[string]time.Time{"none": deadline, "later": deadline, "earlier": earlier, "used": later, "elsewhere": {}} {
		if got := MustToken(t, s, hash); !got.GraceUntil.Equal(want) {
			t.Errorf("%s: deadline %v, want %v", hash, got.GraceUntil, want)
		}
	}
}

// SetSessionUse writes when and from where the session was used and its
// idle expiry, and nothing else.
func (c contract) setSessionUse(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	sess := MustSession(t, s, MustUser(t, s, "alice").ID, "h1")
	moved := sess
	moved.LastUsedAt = T0.Add(time.Minute)
	moved.IdleExpiresAt = T0.Add(2 * time.Hour)
	moved.IP, moved.UserAgent = "198.51.100.7", "laptop"
	written := moved
	written.CreatedAt = T0.Add(time.Hour)           // not written
	written.AbsoluteExpiresAt = T0.Add(time.Minute) // not written
	written.RevokeReason = store.EventLogout        // not written
	inTx(t, s, func(tx store.Tx) error { return tx.SetSessionUse(context.Background(), written) })
	if got := MustSessionByID(t, s, sess.ID); got != moved {
		t.Errorf("session =\n%+v, want\n%+v", got, moved)
	}
}

// SessionForUpdate takes the lock TokenForUpdate takes: transactions that
// reach one session through either run one after the other, so a
// revocation never lands in the middle of a rotation. Each moves the
// session's last use on by a millisecond, and no move is lost.
func (c contract) sessionForUpdateSerializes(t *testing.T) {
	now := T0
	s, alice := c.withAlice(t, &now)
	sess := MustSession(t, s, alice.ID, "h1")
	ctx := context.Background()
	const moves = 16
	AllAtOnce(t, "transaction", moves, func(i int) error {
		return s.InTx(ctx, func(tx store.Tx) (err error) {
			var got store.Session
			if i%2 == 0 {
				got, err = tx.SessionForUpdate(ctx, sess.ID)
			} else {
				_, got, _, err = tx.TokenForUpdate(ctx, "h1")
			}
			if err != nil {
				return err
			}
			got.LastUsedAt = got.LastUsedAt.Add(time.Millisecond)
			return tx.SetSessionUse(ctx, got)
		})
	})
	if got, want := MustSessionByID(t, s, sess.ID).LastUsedAt, T0.Add(moves*time.Millisecond); !got.Equal(want) {
		t.Errorf("LastUsedAt = %v, want %v: %d moves were lost", got, want, want.Sub(got)/time.Millisecond)
	}
}

// SessionForUpdate finds a session whatever its state or user, and names
// an unknown one ErrNotFound. Whose session may be ended is auth's
// (auth/revoke.go).
func (c contract) sessionForUpdate(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()
	sess := MustSession(t, s, MustUser(t, s, "alice").ID, "h1")
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

// Tx.RevokeSession and Tx.RevokeSessionAndTokens end the session at the
// time given for the reason, record no event, and leave other sessions
// alone. RevokeSession leaves the session's tokens as they are (a refresh
// then finds a revoked session, as after a logout); RevokeSessionAndTokens
// marks its current ones used then (as reuse detection needs) and keeps
// when the used ones were used.
func (c contract) txRevoke(t *testing.T) {
	tests := []struct {
		name       string
		revoke     func(tx store.Tx, ctx context.Context, sessionID, reason string, revokedAt time.Time) error
		reason     string
		killTokens bool
	}{
		{"RevokeSession", store.Tx.RevokeSession, store.EventRevoked, false},
		{"RevokeSessionAndTokens", store.Tx.RevokeSessionAndTokens, store.EventReuseDetected, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := T0
			s, _, sess, other := c.twoSessions(t, &now)
			ctx := context.Background()
			now = now.Add(time.Minute)
			UseToken(t, s, "h1", "h2")
			h1 := MustToken(t, s, "h1")
			inTx(t, s, func(tx store.Tx) error {
				_, err := tx.InsertRefreshToken(ctx, sess.ID, "sibling", time.Time{})
				return err
			})
			now = now.Add(time.Minute)
			inTx(t, s, func(tx store.Tx) error { return tt.revoke(tx, ctx, sess.ID, tt.reason, tx.Now()) })
			got := MustSessionByID(t, s, sess.ID)
			if !got.RevokedAt.Equal(now) || got.RevokeReason != tt.reason {
				t.Errorf("session = %+v, want revoked now for %s", got, tt.reason)
			}
			for _, hash := range []string{"h2", "sibling"} {
				tok := MustToken(t, s, hash)
				if tt.killTokens && !tok.UsedAt.Equal(now) || !tt.killTokens && tok.Used() {
					t.Errorf("%s = %+v, want used now %v", hash, tok, tt.killTokens)
				}
			}
			if byHash, err := s.SessionByRefreshHash(ctx, "h2"); !tt.killTokens && (err != nil || byHash != got) {
				t.Errorf("the current token's session = %+v, %v; want it, revoked", byHash, err)
			}
			if tok := MustToken(t, s, "h1"); tok != h1 {
				t.Errorf("h1 = %+v, want it as it was %+v", tok, h1)
			}
			if kinds := EventKinds(t, s, sess.ID); !slices.Equal(kinds, []string{store.EventLogin}) {
				t.Errorf("events = %v, want only the login", kinds)
			}
			if got := MustSessionByID(t, s, other.ID); got != other || MustToken(t, s, "other").Used() {
				t.Errorf("another session was harmed: %+v", got)
			}
		})
	}
}

// EventTimesSince counts only the session's events of the kinds after
// since, newest first, at most max.
func (c contract) eventTimesSince(t *testing.T) {
	now := T0
	s, alice, sess, other := c.twoSessions(t, &now)
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return T0.Add(d) }
	inTx(t, s, func(tx store.Tx) error {
		for _, e := range []store.Event{
			{SessionID: sess.ID, Kind: store.EventRefresh, At: at(10 * time.Second)}, // at since: not after it
			{SessionID: sess.ID, Kind: store.EventRefresh, At: at(20 * time.Second)},
			{SessionID: sess.ID, Kind: store.EventRefreshGrace, At: at(30 * time.Second)},
			{SessionID: sess.ID, Kind: store.EventLogout, At: at(35 * time.Second)}, // another kind
			{SessionID: sess.ID, Kind: store.EventRefresh, At: at(40 * time.Second)},
			{SessionID: other.ID, Kind: store.EventRefresh, At: at(45 * time.Second)}, // another session
		} {
			e.UserID = alice.ID
			if err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	kinds := []string{store.EventRefresh, store.EventRefreshGrace}
	tests := []struct {
		name  string
		kinds []string
		max   int
		want  []time.Time
	}{
		{"ok, all after since", kinds, 10, []time.Time{at(40 * time.Second), at(30 * time.Second), at(20 * time.Second)}},
		{"ok, at most max, newest first", kinds, 2, []time.Time{at(40 * time.Second), at(30 * time.Second)}},
		{"ok, one kind", []string{store.EventRefreshGrace}, 10, []time.Time{at(30 * time.Second)}},
		{"ok, no kinds", nil, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Time
			inTx(t, s, func(tx store.Tx) (err error) {
				got, err = tx.EventTimesSince(ctx, sess.ID, tt.kinds, at(10*time.Second), tt.max)
				return err
			})
			if !slices.EqualFunc(got, tt.want, time.Time.Equal) {
				t.Errorf("EventTimesSince = %v, want %v", got, tt.want)
			}
		})
	}
}

// A session keeps at most store.MaxEventsPerSession events: the oldest go,
// in the transaction that adds the new one, except the login event, the
// only record of where the session began.
func (c contract) insertEventCapsTheTimeline(t *testing.T) {
	now := T0
	s, alice, sess, other := c.twoSessions(t, &now)
	ctx := context.Background()
	const inserts = store.MaxEventsPerSession + 20
	for range inserts {
		now = now.Add(time.Second)
		inTx(t, s, func(tx store.Tx) error {
			return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: alice.ID, Kind: store.EventRefresh, At: tx.Now()})
		})
	}
	events, err := s.SessionEvents(ctx, sess.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != store.MaxEventsPerSession {
		t.Fatalf("%d events, want %d", len(events), store.MaxEventsPerSession)
	}
	last := events[len(events)-1]
	if last.Kind != store.EventLogin || !last.At.Equal(T0) {
		t.Errorf("oldest kept event %+v, want the login", last)
	}
	// The newest refreshes are kept, the oldest dropped.
	if !events[0].At.Equal(now) || !events[len(events)-2].At.Equal(now.Add(-time.Duration(store.MaxEventsPerSession-2)*time.Second)) {
		t.Errorf("kept refreshes from %v to %v, want the newest %d", events[len(events)-2].At, events[0].At, store.MaxEventsPerSession-1)
	}
	if kinds := EventKinds(t, s, other.ID); !slices.Equal(kinds, []string{store.EventLogin}) {
		t.Errorf("another session's events %v", kinds)
	}
}

// Tx.CreateSession writes the session at Tx.Now with its first token and
// login event, and names an unknown user ErrNotFound.
func (c contract) txCreateSession(t *testing.T) {
	now := T0.Add(time.Minute)
	s, alice := c.withAlice(t, &now)
	ctx := context.Background()
	var sess store.Session
	inTx(t, s, func(tx store.Tx) (err error) {
		sess, err = tx.CreateSession(ctx, store.NewSession{UserID: alice.ID, RefreshHash: "h1", IdleTTL: IdleTTL, MaxAge: MaxAge, Client: Owner})
		return err
	})
	want := store.Session{ID: sess.ID, UserID: alice.ID, CreatedAt: now, LastUsedAt: now,
		IdleExpiresAt: now.Add(IdleTTL), AbsoluteExpiresAt: now.Add(MaxAge), UserAgent: Owner.UserAgent, IP: Owner.IP}
	if sess.ID == "" || sess != want || MustSessionByID(t, s, sess.ID) != want {
		t.Errorf("session = %+v, want %+v", sess, want)
	}
	if tok := MustToken(t, s, "h1"); tok.SessionID != sess.ID || tok.Used() {
		t.Errorf("first token = %+v, want current in the session", tok)
	}
	if kinds := EventKinds(t, s, sess.ID); !slices.Equal(kinds, []string{store.EventLogin}) {
		t.Errorf("events %v, want [login]", kinds)
	}
	err := s.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.CreateSession(ctx, store.NewSession{UserID: "nope", RefreshHash: "h2", IdleTTL: IdleTTL, MaxAge: MaxAge})
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}

// Tx.CreateSession holds the user, and so does Tx.LiveSessionsForUpdate:
// transactions that create a session for one user run one after the
// other, whichever of the two comes first, so each sees every session the
// ones before it created. That is what lets the cap (auth) count, and "log
// out everywhere" end every racing login, without racing.
func (c contract) txSerializesOneUser(t *testing.T) {
	create := func(ctx context.Context, tx store.Tx, userID string, i int) error {
		_, err := tx.CreateSession(ctx, store.NewSession{UserID: userID, RefreshHash: fmt.Sprintf("h%d", i), IdleTTL: IdleTTL, MaxAge: MaxAge})
		return err
	}
	tests := []struct {
		name string
		// login creates a session and returns how many live sessions the
		// transaction saw.
		login func(ctx context.Context, tx store.Tx, userID string, i int) (int, error)
		// firstSees is what the first transaction sees.
		firstSees int
	}{
		{"CreateSession, then LiveSessions", func(ctx context.Context, tx store.Tx, userID string, i int) (int, error) {
			if err := create(ctx, tx, userID, i); err != nil {
				return 0, err
			}
			live, err := tx.LiveSessions(ctx, userID)
			return len(live), err
		}, 1},
		{"LiveSessionsForUpdate, then CreateSession", func(ctx context.Context, tx store.Tx, userID string, i int) (int, error) {
			live, err := tx.LiveSessionsForUpdate(ctx, userID)
			if err != nil {
				return 0, err
			}
			return len(live), create(ctx, tx, userID, i)
		}, 0},
	}
	ctx := context.Background()
	const logins = 12
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := T0
			s := c.open(t, &now)
			alice := MustUser(t, s, "alice")
			seen := make([]int, logins)
			AllAtOnce(t, "login", logins, func(i int) error {
				return s.InTx(ctx, func(tx store.Tx) (err error) {
					seen[i], err = tt.login(ctx, tx, alice.ID, i)
					return err
				})
			})
			slices.Sort(seen)
			for i, n := range seen {
				if n != tt.firstSees+i {
					t.Fatalf("live sessions seen %v, want %d..%d: two logins of one user overlapped", seen, tt.firstSees, tt.firstSees+logins-1)
				}
			}
		})
	}
}

// Tx.LiveSessions and Tx.LiveSessionsForUpdate list the user's sessions
// alive at Tx.Now, most recently used first, then newest created.
func (c contract) liveSessions(t *testing.T) {
	for _, list := range []struct {
		name string
		list func(store.Tx, context.Context, string) ([]store.Session, error)
	}{
		{"LiveSessions", store.Tx.LiveSessions},
		{"LiveSessionsForUpdate", store.Tx.LiveSessionsForUpdate},
	} {
		t.Run(list.name, func(t *testing.T) { c.liveSessionsThrough(t, list.list) })
	}
}

func (c contract) liveSessionsThrough(t *testing.T, list func(store.Tx, context.Context, string) ([]store.Session, error)) {
	now := T0
	s, alice := c.withAlice(t, &now)
	ctx := context.Background()
	bob := MustUser(t, s, "bob")
	first := MustSession(t, s, alice.ID, "a1")
	now = now.Add(time.Minute)
	second := MustSession(t, s, alice.ID, "a2")
	third := MustSession(t, s, alice.ID, "a3") // created at the same time as second
	revoked := MustSession(t, s, alice.ID, "a4")
	Revoke(t, s, revoked.ID, store.EventLogout)
	MustSession(t, s, bob.ID, "b1")
	now = now.Add(time.Minute)
	UseToken(t, s, "a1", "a1-next") // the oldest is the most recently used
	ids := func(userID string) []string {
		var out []string
		inTx(t, s, func(tx store.Tx) error {
			live, err := list(tx, ctx, userID)
			for _, sess := range live {
				out = append(out, sess.ID)
			}
			return err
		})
		return out
	}
	// second and third tie on last use and creation: the greater ID first.
	tied := []string{second.ID, third.ID}
	slices.Sort(tied)
	if got, want := ids(alice.ID), []string{first.ID, tied[1], tied[0]}; !slices.Equal(got, want) {
		t.Errorf("live %v, want %v", got, want)
	}
	if got := ids("nobody"); len(got) != 0 {
		t.Errorf("live sessions of an unknown user %v, want none", got)
	}
	now = first.IdleExpiresAt // an expiry is exclusive; the last use did not slide it
	if got, want := ids(alice.ID), []string{tied[1], tied[0]}; !slices.Equal(got, want) {
		t.Errorf("live at the first's idle expiry %v, want %v", got, want)
	}
	now = second.IdleExpiresAt
	if got := ids(alice.ID); len(got) != 0 {
		t.Errorf("live at the last idle expiry %v, want none", got)
	}
}
