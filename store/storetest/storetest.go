// Package storetest is the contract every store.Store implementation
// passes: users, sessions, revocation, the signing keys' states, cleanup, and the
// transaction seam the rotation policy (auth) runs on: InTx commits or
// leaves nothing, serialises transactions on one token, and each Tx
// primitive does its one thing (the event cap included). The policy's own
// cases live with it, in auth. A backend's own tests call Run; what can only
// be seen in its tables (file modes, migrations, query plans) stays in that
// backend's package.
//
// Every case goes through the interface alone and moves time through the
// injected clock, never by sleeping.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
)

// NewStore returns an empty store whose clock is now, closed when t ends.
// Each call must give a store that shares nothing with the others.
type NewStore func(t *testing.T, now func() time.Time) store.Store

// Run runs every contract case against stores made by newStore, each case
// (and each table row that needs one) on a fresh store.
func Run(t *testing.T, newStore NewStore) {
	c := contract{newStore: newStore}
	cases := []struct {
		name string
		run  func(*testing.T)
	}{
		{"CreateUser", c.createUser},
		{"UserLookups", c.userLookups},
		{"CreateSession", c.createSession},
		{"SessionLookupsNotFound", c.sessionLookupsNotFound},
		{"ActiveSessions", c.activeSessions},
		{"DeleteExpired", c.deleteExpired},
		{"SessionTimeline", c.sessionTimeline},
		{"SessionByRefreshHashIgnoresRotatedTokens", c.sessionByRefreshHashIgnoresRotatedTokens},
		{"InTxCommits", c.inTxCommits},
		{"InTxRollsBackOnError", c.inTxRollsBackOnError},
		{"InTxRollsBackOnPanic", c.inTxRollsBackOnPanic},
		{"InTxSerializesOneToken", c.onOneStore(rotateOneTokenOnce)},
		{"InTxSerializesOneSession", c.onOneStore(serializeOneSession)},
		{"TokenForUpdate", c.tokenForUpdate},
		{"InsertRefreshTokenRefusesDuplicates", c.insertRefreshTokenRefusesDuplicates},
		{"RetireLiveTokensKeepsDeadlines", c.retireLiveTokensKeepsDeadlines},
		{"CapLiveTokenGrace", c.capLiveTokenGrace},
		{"SetSessionUse", c.setSessionUse},
		{"SessionForUpdate", c.sessionForUpdate},
		{"SessionForUpdateSerializes", c.sessionForUpdateSerializes},
		{"TxRevoke", c.txRevoke},
		{"EventTimesSince", c.eventTimesSince},
		{"InsertEventCapsTheTimeline", c.insertEventCapsTheTimeline},
		{"TxCreateSession", c.txCreateSession},
		{"TxSerializesOneUser", c.txSerializesOneUser},
		{"LiveSessions", c.liveSessions},
		{"SigningKeysLifecycle", c.signingKeysLifecycle},
		{"SigningKeysRefusals", c.signingKeysRefusals},
		{"SigningKeysPlansAreSerialised", c.signingKeysPlansAreSerialised},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}
}

// contract carries the backend's constructor to the cases.
type contract struct {
	newStore NewStore
}

// onOneStore runs a race of RunTwoStores with every transaction on one
// fresh store.
func (c contract) onOneStore(race func(t *testing.T, stores ...store.Store)) func(*testing.T) {
	return func(t *testing.T) {
		now := T0
		race(t, c.open(t, &now))
	}
}

// open makes a fresh store whose clock reads *now, so a case moves time by
// assigning to its own variable.
func (c contract) open(t *testing.T, now *time.Time) store.Store {
	t.Helper()
	return c.newStore(t, func() time.Time { return *now })
}

// The fixtures below are the suite's, exported for a backend's own tests
// (and auth's, which run on the real stores), so every test of a store
// builds its users and sessions one way.

// T0 is when every test starts; tests move their clock forward from it.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// The lifetimes MustSession gives a session.
const (
	IdleTTL = time.Hour
	MaxAge  = 24 * time.Hour
)

// Owner is the client MustSession logs in from; Thief is somebody else.
var (
	Owner = store.Client{IP: "192.0.2.1", UserAgent: "owner-browser"}
	Thief = store.Client{IP: "203.0.113.9", UserAgent: "thief-script"}
)

// MustUser creates the user with a well-formed password hash.
func MustUser(t *testing.T, s store.Store, username string) store.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), username, "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA")
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// MustSession starts a session of the user from Owner, its first refresh
// token's hash refreshHash.
func MustSession(t *testing.T, s store.Store, userID, refreshHash string) store.Session {
	t.Helper()
	sess, err := s.CreateSession(context.Background(), store.NewSession{
		UserID:      userID,
		RefreshHash: refreshHash,
		IdleTTL:     IdleTTL,
		MaxAge:      MaxAge,
		Client:      Owner,
	})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

// MustSessionByID reads the session.
func MustSessionByID(t *testing.T, s store.Store, id string) store.Session {
	t.Helper()
	sess, err := s.Session(context.Background(), id)
	if err != nil {
		t.Fatalf("Session(%s): %v", id, err)
	}
	return sess
}

// EventKinds lists a session's event kinds, newest first.
func EventKinds(t *testing.T, s store.Store, sessionID string) []string {
	t.Helper()
	events, err := s.SessionEvents(context.Background(), sessionID, 0)
	if err != nil {
		t.Fatalf("SessionEvents: %v", err)
	}
	kinds := make([]string, len(events))
	for i, e := range events {
		kinds[i] = e.Kind
	}
	return kinds
}

// RefreshUnknown reports whether no unrotated refresh token has the hash:
// what the interface shows of a token that was never stored, was rotated,
// or went with its session.
func RefreshUnknown(t *testing.T, s store.Store, hash string) bool {
	t.Helper()
	_, err := s.SessionByRefreshHash(context.Background(), hash)
	if err != nil && !errors.Is(err, store.ErrRefreshUnknown) {
		t.Fatalf("SessionByRefreshHash(%s): %v", hash, err)
	}
	return err != nil
}

// AllAtOnce runs fn(0) … fn(n-1) in n goroutines released together, waits
// for them all, and fails t for each that failed, naming it "what i".
func AllAtOnce(t *testing.T, what string, n int, fn func(i int) error) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s %d: %v", what, i, err)
		}
	}
}
