package throttle

import (
	"fmt"
	"testing"
	"time"
)

// newMemory is a store whose attempts in flight are held as long as the
// server's hashing wait.
func newMemory(l Limits) *Memory {
	l.AttemptTimeout = 5 * time.Second
	return NewMemory(l, nil)
}

// The tables stay bounded whatever an attacker sends, and expired entries
// go away.
func TestThrottleMemoryIsBounded(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 3, AddressFailures: 1 << 30, Registrations: 1 << 30, Logins: 1 << 30})
	th.maxEntries = 100
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10_000 {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if wait := failAt(t, th, fmt.Sprintf("user%d", i), ip, now); wait > 0 {
			t.Fatalf("attempt %d throttled", i)
		}
		th.AllowRegistration(ip, now)
	}
	if n := len(th.accounts) + len(th.ipFails) + len(th.registers) + len(th.logins); n > 400 {
		t.Errorf("%d entries, want at most 4*100", n)
	}
	now = now.Add(accountMemory + time.Minute)
	failAt(t, th, "late", "192.0.2.1", now)
	if len(th.accounts) != 1 || len(th.ipFails) != 1 || len(th.registers) != 0 || len(th.logins) != 1 {
		t.Errorf("after a day: %d accounts, %d addresses, %d registrations, %d login counts; want 1, 1, 0, 1",
			len(th.accounts), len(th.ipFails), len(th.registers), len(th.logins))
	}
}

// failAt makes one login attempt at the given time and, when it is let
// through, resolves it as failed. It returns the wait when refused.
func failAt(t *testing.T, th *Memory, username, ip string, at time.Time) time.Duration {
	t.Helper()
	return attemptAt(t, th, username, ip, at, Attempt.Failed)
}

// waitAt is the wait a login attempt at the given time gets; one that is
// let through (0) is taken back.
func waitAt(t *testing.T, th *Memory, username, ip string, at time.Time) time.Duration {
	t.Helper()
	return attemptAt(t, th, username, ip, at, Attempt.Aborted)
}

// attemptAt makes one login attempt that must not wait for attempts in
// flight, resolves it when let through, and returns the wait when refused.
func attemptAt(t *testing.T, th *Memory, username, ip string, at time.Time, resolve func(Attempt)) time.Duration {
	t.Helper()
	a, wait, busy := th.TryLogin(username, ip, at)
	if busy != nil {
		t.Fatalf("login %s from %s would wait for attempts in flight", username, ip)
	}
	if a != nil {
		resolve(a)
	}
	return wait
}

func TestAccountDelay(t *testing.T) {
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for n, w := range want {
		if got := accountDelay(n); got != w {
			t.Errorf("accountDelay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := accountDelay(1 << 20); got != accountMaxDelay {
		t.Errorf("accountDelay(huge) = %v", got)
	}
}

// A full table must not let a spray of new usernames or addresses flush a
// lock: held entries are never evicted, the cheapest ones go first, and when
// everything is held the newcomer waits.
func TestThrottleFullTableKeepsLocks(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newSmall := func(l Limits) *Memory {
		th := newMemory(l)
		th.maxEntries = 10
		return th
	}
	// spray makes n attempts with fresh usernames from fresh addresses.
	spray := func(t *testing.T, th *Memory, n int, now time.Time) {
		t.Helper()
		for i := range n {
			if wait := failAt(t, th, fmt.Sprintf("spray%d", i), fmt.Sprintf("10.9.%d.%d", i>>8&255, i&255), now); wait > 0 {
				t.Fatalf("spray attempt %d refused for %v", i, wait)
			}
		}
	}
	assertBounded := func(t *testing.T, th *Memory) {
		t.Helper()
		if len(th.accounts) > th.maxEntries || len(th.ipFails) > th.maxEntries || len(th.registers) > th.maxEntries {
			t.Errorf("tables over their bound: %d accounts, %d addresses, %d registrations",
				len(th.accounts), len(th.ipFails), len(th.registers))
		}
	}

	t.Run("a locked account survives a spray of usernames", func(t *testing.T) {
		th := newSmall(Limits{LoginFailures: 3, AddressFailures: 1 << 30, Registrations: 1 << 30, Logins: 1 << 30})
		for range 3 {
			failAt(t, th, "victim", "192.0.2.1", t0)
		}
		if wait := waitAt(t, th, "victim", "192.0.2.1", t0); wait != 30*time.Second {
			t.Fatalf("victim not locked: wait %v", wait)
		}
		spray(t, th, 1000, t0.Add(time.Second))
		assertBounded(t, th)
		if wait := waitAt(t, th, "victim", "192.0.2.2", t0.Add(2*time.Second)); wait != 28*time.Second {
			t.Fatalf("after the spray the victim's wait is %v, want 28s: the lock was flushed", wait)
		}
	})

	t.Run("failures below the limit outlive a spray of single failures", func(t *testing.T) {
		th := newSmall(Limits{LoginFailures: 3, AddressFailures: 1 << 30, Registrations: 1 << 30, Logins: 1 << 30})
		for range 2 {
			failAt(t, th, "victim", "192.0.2.1", t0)
		}
		spray(t, th, 1000, t0.Add(time.Second)) // newer than the victim's failures, but fewer
		failAt(t, th, "victim", "192.0.2.1", t0.Add(2*time.Second))
		if wait := waitAt(t, th, "victim", "192.0.2.1", t0.Add(3*time.Second)); wait <= 0 {
			t.Fatal("the third failure did not lock: the first two were evicted")
		}
	})

	t.Run("an address over its limit survives a spray of addresses", func(t *testing.T) {
		th := newSmall(Limits{LoginFailures: 1 << 30, AddressFailures: 2, Registrations: 1 << 30, Logins: 1 << 30})
		failAt(t, th, "a", "198.51.100.66", t0)
		failAt(t, th, "b", "198.51.100.66", t0)
		spray(t, th, 1000, t0.Add(time.Second))
		assertBounded(t, th)
		if wait := waitAt(t, th, "c", "198.51.100.66", t0.Add(time.Minute)); wait != ipFailureWindow-time.Minute {
			t.Fatalf("the attacker's address waits %v, want %v", wait, ipFailureWindow-time.Minute)
		}
	})

	t.Run("an address at its registration limit survives a spray", func(t *testing.T) {
		th := newSmall(Limits{LoginFailures: 1 << 30, AddressFailures: 1 << 30, Registrations: 2, Logins: 1 << 30})
		th.AllowRegistration("198.51.100.66", t0)
		th.AllowRegistration("198.51.100.66", t0)
		for i := range 1000 {
			if wait := th.AllowRegistration(fmt.Sprintf("10.9.%d.%d", i>>8&255, i&255), t0.Add(time.Second)); wait > 0 {
				t.Fatalf("registration %d refused", i)
			}
		}
		assertBounded(t, th)
		if wait := th.AllowRegistration("198.51.100.66", t0.Add(time.Minute)); wait != registerWindow-time.Minute {
			t.Fatalf("wait %v, want %v", wait, registerWindow-time.Minute)
		}
	})

	t.Run("when every account is locked, a newcomer waits for the first lock to end", func(t *testing.T) {
		th := newSmall(Limits{LoginFailures: 1, AddressFailures: 1 << 30, Registrations: 1 << 30, Logins: 1 << 30})
		for i := range 10 { // one failure locks for 30s; the first lock ends first
			failAt(t, th, fmt.Sprintf("locked%d", i), "192.0.2.1", t0.Add(time.Duration(i)*time.Second))
		}
		now := t0.Add(20 * time.Second)
		if wait := waitAt(t, th, "newcomer", "192.0.2.1", now); wait != 10*time.Second {
			t.Fatalf("newcomer: wait %v; want refused for 10s", wait)
		}
		if wait := waitAt(t, th, "other", "192.0.2.1", now.Add(5*time.Second)); wait != 5*time.Second {
			t.Fatalf("second newcomer: wait %v; want refused for 5s", wait)
		}
		if th.accounts["newcomer"] != nil || th.ipFails["192.0.2.1"].count != 10 {
			t.Error("a refused newcomer was counted")
		}
		for i := range 10 {
			if wait := waitAt(t, th, fmt.Sprintf("locked%d", i), "192.0.2.1", now); wait <= 0 {
				t.Fatalf("locked%d was evicted", i)
			}
		}
		// Once a lock ends, its entry may go and the newcomer gets in.
		if wait := failAt(t, th, "newcomer", "192.0.2.1", t0.Add(30*time.Second)); wait > 0 {
			t.Fatalf("newcomer still refused (%v) after the first lock ended", wait)
		}
		if th.accounts["locked0"] != nil || th.accounts["locked1"] == nil {
			t.Error("the wrong entry made room")
		}
		assertBounded(t, th)
	})

	t.Run("when every address is over its limit, a new address waits", func(t *testing.T) {
		th := newSmall(Limits{LoginFailures: 1 << 30, AddressFailures: 1, Registrations: 1 << 30, Logins: 1 << 30})
		for i := range 10 {
			failAt(t, th, "u", fmt.Sprintf("192.0.2.%d", i), t0)
		}
		if wait := waitAt(t, th, "u", "192.0.2.200", t0.Add(time.Minute)); wait != 14*time.Minute {
			t.Fatalf("wait %v; want refused for 14m", wait)
		}
		if th.accounts["u"].count != 10 {
			t.Errorf("the refused attempt was counted for the account: %d", th.accounts["u"].count)
		}
	})
}

// The throttle's room for attempts in flight, step by step.
func TestThrottleAttemptsInFlight(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limits := Limits{LoginFailures: 5, AddressFailures: 1 << 30, Registrations: 1 << 30, Logins: 1 << 30}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	begin5 := func(t *testing.T, th *Memory, at time.Time) []Attempt {
		t.Helper()
		var in []Attempt
		for i := range 5 {
			a, wait, busy := th.TryLogin("acct", "192.0.2.1", at)
			if a == nil {
				t.Fatalf("attempt %d: wait %v, busy %v; want let through", i, wait, busy != nil)
			}
			in = append(in, a)
		}
		return in
	}

	t.Run("correct logins take turns", func(t *testing.T) {
		th := newMemory(limits)
		in := begin5(t, th, t0)
		a, wait, busy := th.TryLogin("acct", "192.0.2.1", t0)
		if a != nil || wait != 0 || busy == nil {
			t.Fatalf("sixth: attempt %v, wait %v; want to wait for room", a, wait)
		}
		in[0].Succeeded()
		if !closed(busy) {
			t.Fatal("a success did not wake the waiter")
		}
		if a, _, _ := th.TryLogin("acct", "192.0.2.1", t0); a == nil {
			t.Fatal("no room after a success")
		}
	})
	t.Run("wrong guesses fill the limit, then the rest are refused", func(t *testing.T) {
		th := newMemory(limits)
		in := begin5(t, th, t0)
		_, _, busy := th.TryLogin("acct", "192.0.2.1", t0)
		for _, a := range in {
			a.Failed()
		}
		if !closed(busy) {
			t.Fatal("failures did not wake the waiter")
		}
		if a, wait, _ := th.TryLogin("acct", "192.0.2.1", t0); a != nil || wait != 30*time.Second {
			t.Fatalf("after 5 failures: attempt %v, wait %v; want refused for 30s", a, wait)
		}
		t.Run("past the limit, one attempt at a time", func(t *testing.T) {
			at := t0.Add(30 * time.Second)
			first, _, _ := th.TryLogin("acct", "192.0.2.1", at)
			if first == nil {
				t.Fatal("no attempt once the wait ended")
			}
			if a, _, busy := th.TryLogin("acct", "192.0.2.1", at); a != nil || busy == nil {
				t.Fatal("a second attempt was let through beside the first")
			}
			first.Failed()
			if a, wait, _ := th.TryLogin("acct", "192.0.2.1", at); a != nil || wait != time.Minute {
				t.Fatalf("attempt %v, wait %v; want refused for 1m", a, wait)
			}
		})
	})
	t.Run("a resolution counts once", func(t *testing.T) {
		th := newMemory(limits)
		a, _, _ := th.TryLogin("acct", "192.0.2.1", t0)
		a.Aborted()
		a.Failed() // the caller's deferred safety net
		if th.accounts["acct"] != nil || th.ipFails["192.0.2.1"].count != 0 || th.logins["192.0.2.1"].count != 0 {
			t.Errorf("an aborted attempt left counts: %+v %+v", th.accounts["acct"], th.ipFails["192.0.2.1"])
		}
	})
	t.Run("an entry in flight survives a spray, and its failure counts", func(t *testing.T) {
		th := newMemory(Limits{LoginFailures: 2, AddressFailures: 1 << 30, Registrations: 1 << 30, Logins: 1 << 30})
		th.maxEntries = 10
		failAt(t, th, "victim", "192.0.2.1", t0) // one failure: the first to go, were it not in flight
		victim, _, _ := th.TryLogin("victim", "192.0.2.1", t0.Add(time.Second))
		for i := range 1000 {
			if wait := failAt(t, th, fmt.Sprintf("spray%d", i), fmt.Sprintf("10.9.%d.%d", i>>8&255, i&255), t0.Add(2*time.Second)); wait > 0 {
				t.Fatalf("spray %d refused", i)
			}
		}
		victim.Failed()
		if wait := waitAt(t, th, "victim", "192.0.2.2", t0.Add(3*time.Second)); wait != 28*time.Second {
			t.Errorf("the victim waits %v, want 28s: its record was evicted while in flight", wait)
		}
	})
}
