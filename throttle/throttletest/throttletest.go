// Package throttletest is the contract every throttle.Store passes, run
// on Memory and on the SQL store. Each case gets two stores over the same
// counters (for Memory, one store twice; for the SQL store, two pools on
// one database, as two app instances would have), and spreads its
// attempts over both: a brute force spread over instances is counted as
// one.
package throttletest

import (
	"context"
	"testing"
	"time"

	"tokenflow/throttle"
)

// NewStores returns two stores over fresh, shared counters with limits l.
type NewStores func(t *testing.T, l throttle.Limits) (a, b throttle.Store)

// AttemptTimeout is the Limits.AttemptTimeout the suite uses.
const AttemptTimeout = 5 * time.Second

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func limits(loginFailures, addressFailures, logins, registrations int) throttle.Limits {
	return throttle.Limits{LoginFailures: loginFailures, AddressFailures: addressFailures,
		Logins: logins, Registrations: registrations, AttemptTimeout: AttemptTimeout}
}

// begin is one look: the attempt, or the wait, or busy (no room while
// attempts are in flight).
func begin(t *testing.T, s throttle.Store, account, addr string, now time.Time) (a throttle.Attempt, wait time.Duration, busy bool) {
	t.Helper()
	a, wait, ch, err := s.BeginLogin(context.Background(), account, addr, now)
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	return a, wait, ch != nil
}

// mustBegin is a look that must be let through.
func mustBegin(t *testing.T, s throttle.Store, account, addr string, now time.Time) throttle.Attempt {
	t.Helper()
	a, wait, busy := begin(t, s, account, addr, now)
	if a == nil {
		t.Fatalf("attempt on %s from %s refused (wait %v, busy %v)", account, addr, wait, busy)
	}
	return a
}

// Run runs the contract.
func Run(t *testing.T, newStores NewStores) {
	t.Run("account failures spread over two stores lock the account", func(t *testing.T) {
		a, b := newStores(t, limits(3, 100, 100, 100))
		stores := []throttle.Store{a, b}
		for i := range 3 {
			// A new address each time: only the account's count can stop it.
			mustBegin(t, stores[i%2], "ada", "192.0.2."+string(rune('1'+i)), t0).Failed()
		}
		for _, s := range stores {
			if _, wait, _ := begin(t, s, "ada", "198.51.100.9", t0); wait != throttle.AccountDelay(0) {
				t.Errorf("after 3 failures over two stores: wait %v, want %v", wait, throttle.AccountDelay(0))
			}
		}
		// One more failure after the wait doubles it.
		later := t0.Add(throttle.AccountDelay(0))
		mustBegin(t, b, "ada", "198.51.100.9", later).Failed()
		if _, wait, _ := begin(t, a, "ada", "198.51.100.10", later); wait != throttle.AccountDelay(1) {
			t.Errorf("after a 4th failure: wait %v, want %v", wait, throttle.AccountDelay(1))
		}
	})

	t.Run("a success forgets the account's failures", func(t *testing.T) {
		a, b := newStores(t, limits(3, 100, 100, 100))
		mustBegin(t, a, "ada", "192.0.2.1", t0).Failed()
		mustBegin(t, b, "ada", "192.0.2.1", t0).Failed()
		mustBegin(t, a, "ada", "192.0.2.1", t0).Succeeded()
		mustBegin(t, b, "ada", "192.0.2.1", t0).Failed()
		mustBegin(t, a, "ada", "192.0.2.1", t0).Failed()
		mustBegin(t, b, "ada", "192.0.2.1", t0) // 2 failures since the success: still let through
	})

	t.Run("address failures over many accounts and two stores", func(t *testing.T) {
		a, b := newStores(t, limits(100, 2, 100, 100))
		mustBegin(t, a, "u1", "192.0.2.1", t0).Failed()
		mustBegin(t, b, "u2", "192.0.2.1", t0).Failed()
		if _, wait, _ := begin(t, a, "u3", "192.0.2.1", t0.Add(time.Minute)); wait != throttle.AddressWindow-time.Minute {
			t.Errorf("third account from the address: wait %v, want %v", wait, throttle.AddressWindow-time.Minute)
		}
		mustBegin(t, b, "u3", "192.0.2.2", t0) // another address is not throttled
		mustBegin(t, a, "u3", "192.0.2.1", t0.Add(throttle.AddressWindow))
	})

	t.Run("logins per address count successes too", func(t *testing.T) {
		a, b := newStores(t, limits(100, 100, 2, 100))
		mustBegin(t, a, "ada", "192.0.2.1", t0).Succeeded()
		mustBegin(t, b, "ada", "192.0.2.1", t0).Succeeded()
		if _, wait, _ := begin(t, a, "ada", "192.0.2.1", t0); wait != throttle.AddressWindow {
			t.Errorf("third login: wait %v, want %v", wait, throttle.AddressWindow)
		}
	})

	t.Run("an aborted attempt is not a login nor a failure", func(t *testing.T) {
		a, b := newStores(t, limits(1, 1, 1, 100))
		mustBegin(t, a, "ada", "192.0.2.1", t0).Aborted()
		mustBegin(t, b, "ada", "192.0.2.1", t0).Aborted()
		mustBegin(t, a, "ada", "192.0.2.1", t0).Failed()
		if _, wait, _ := begin(t, b, "ada", "192.0.2.1", t0); wait == 0 {
			t.Error("the failure after two aborts was not counted")
		}
	})

	t.Run("attempts in flight over two stores get no more checks than failures are left", func(t *testing.T) {
		a, b := newStores(t, limits(3, 100, 100, 100))
		stores := []throttle.Store{a, b}
		var inFlight []throttle.Attempt
		for i := range 3 {
			inFlight = append(inFlight, mustBegin(t, stores[i%2], "ada", "192.0.2.1", t0))
		}
		for _, s := range stores {
			if at, wait, busy := begin(t, s, "ada", "192.0.2.1", t0); at != nil || wait != 0 || !busy {
				t.Fatalf("a 4th guess while 3 are in flight: attempt %v, wait %v, busy %v; want busy", at != nil, wait, busy)
			}
		}
		for _, at := range inFlight {
			at.Failed()
		}
		if _, wait, _ := begin(t, b, "ada", "192.0.2.1", t0); wait != throttle.AccountDelay(0) {
			t.Errorf("after the burst failed: wait %v, want %v", wait, throttle.AccountDelay(0))
		}
	})

	t.Run("registrations per address over two stores", func(t *testing.T) {
		a, b := newStores(t, limits(100, 100, 100, 1))
		ctx := context.Background()
		if wait, err := a.CountRegistration(ctx, "192.0.2.1", t0); err != nil || wait != 0 {
			t.Fatalf("first registration: %v, %v", wait, err)
		}
		if wait, err := b.CountRegistration(ctx, "192.0.2.1", t0); err != nil || wait != throttle.RegistrationWindow {
			t.Errorf("second registration on the other store: %v, %v; want %v", wait, err, throttle.RegistrationWindow)
		}
		b.UncountRegistration(ctx, "192.0.2.1")
		if wait, err := b.CountRegistration(ctx, "192.0.2.1", t0); err != nil || wait != 0 {
			t.Errorf("after an aborted registration: %v, %v; want 0", wait, err)
		}
		if wait, err := a.CountRegistration(ctx, "192.0.2.1", t0.Add(throttle.RegistrationWindow)); err != nil || wait != 0 {
			t.Errorf("an hour later: %v, %v; want 0", wait, err)
		}
	})
}
