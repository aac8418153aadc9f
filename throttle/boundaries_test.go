package throttle

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Each window and memory ends exactly at its length: at that instant the
// old count no longer applies, one nanosecond before it still does.

var boundaryT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// succeedAt makes one login attempt that must be let through, and resolves
// it as a success.
func succeedAt(t *testing.T, th *Memory, username, ip string, at time.Time) {
	t.Helper()
	a, wait, busy := th.TryLogin(username, ip, at)
	if a == nil {
		t.Fatalf("login %s from %s at %v: wait %v, busy %v; want let through", username, ip, at, wait, busy != nil)
	}
	a.Succeeded()
}

func TestAddressFailureWindowEndsOnTime(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1 << 30, AddressFailures: 2, Registrations: 1, Logins: 1 << 30})
	failAt(t, th, "a", "192.0.2.1", boundaryT0)
	failAt(t, th, "b", "192.0.2.1", boundaryT0)
	if wait := waitAt(t, th, "c", "192.0.2.1", boundaryT0.Add(ipFailureWindow-time.Nanosecond)); wait != time.Nanosecond {
		t.Errorf("just before the window ends: wait %v, want 1ns", wait)
	}
	if wait := waitAt(t, th, "c", "192.0.2.1", boundaryT0.Add(ipFailureWindow)); wait != 0 {
		t.Errorf("as the window ends: wait %v, want a new window", wait)
	}
}

func TestAccountMemoryEndsOnTime(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 3, AddressFailures: 1 << 30, Registrations: 1, Logins: 1 << 30})
	failAt(t, th, "acct", "192.0.2.1", boundaryT0)
	failAt(t, th, "acct", "192.0.2.2", boundaryT0)
	// A sweep half a minute earlier, so the next look finds the record still
	// in the table and must forget its failures itself.
	waitAt(t, th, "other", "192.0.2.5", boundaryT0.Add(accountMemory-sweepEvery/2))
	// A day after the last failure, the two are forgotten: one more is the
	// first of a clean slate, not the third that locks.
	failAt(t, th, "acct", "192.0.2.3", boundaryT0.Add(accountMemory))
	if wait := waitAt(t, th, "acct", "192.0.2.4", boundaryT0.Add(accountMemory)); wait != 0 {
		t.Errorf("after a failure exactly a day later: wait %v, want none", wait)
	}
}

func TestLoginRateLimitIsExact(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1 << 30, AddressFailures: 1 << 30, Registrations: 1, Logins: 2})
	succeedAt(t, th, "a", "192.0.2.1", boundaryT0)
	succeedAt(t, th, "b", "192.0.2.1", boundaryT0)
	if wait := waitAt(t, th, "c", "192.0.2.1", boundaryT0); wait != ipFailureWindow {
		t.Errorf("the third login: wait %v, want %v", wait, ipFailureWindow)
	}
}

func TestRegistrationWindowEndsOnTime(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1, AddressFailures: 1, Registrations: 1, Logins: 1})
	th.AllowRegistration("192.0.2.1", boundaryT0)
	if wait := th.AllowRegistration("192.0.2.1", boundaryT0.Add(registerWindow-time.Nanosecond)); wait != time.Nanosecond {
		t.Errorf("just before the window ends: wait %v, want 1ns", wait)
	}
	if wait := th.AllowRegistration("192.0.2.1", boundaryT0.Add(registerWindow)); wait != 0 {
		t.Errorf("as the window ends: wait %v, want a new window", wait)
	}
	// That registration counted in the new window.
	if wait := th.AllowRegistration("192.0.2.1", boundaryT0.Add(registerWindow+time.Nanosecond)); wait == 0 {
		t.Error("a second registration in the new window was allowed")
	}
}

// Taking back more registrations than were counted gives no credit.
func TestRegistrationAbortedNeverGoesBelowZero(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1, AddressFailures: 1, Registrations: 1, Logins: 1})
	th.AllowRegistration("192.0.2.1", boundaryT0)
	th.RegistrationAborted("192.0.2.1")
	th.RegistrationAborted("192.0.2.1")
	if wait := th.AllowRegistration("192.0.2.1", boundaryT0); wait != 0 {
		t.Fatalf("first registration after the abort: wait %v", wait)
	}
	if wait := th.AllowRegistration("192.0.2.1", boundaryT0); wait == 0 {
		t.Error("an extra abort bought a second registration")
	}
}

// An aborted attempt that began in the previous login window takes back
// nothing from the new one, even when the new one counted nothing yet.
func TestAbortedAttemptOfAnEndedWindowGivesNoCredit(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1, AddressFailures: 1 << 30, Registrations: 1, Logins: 2})
	old, _, _ := th.TryLogin("a", "192.0.2.1", boundaryT0)
	if old == nil {
		t.Fatal("first attempt refused")
	}
	end := boundaryT0.Add(ipFailureWindow)
	failAt(t, th, "locked", "192.0.2.9", end.Add(-time.Second))
	// This look restarts the address's login window, then is refused for
	// the account's lock: the new window counts nothing.
	if wait := waitAt(t, th, "locked", "192.0.2.1", end); wait == 0 {
		t.Fatal("the locked account was let through")
	}
	old.Aborted()
	succeedAt(t, th, "b", "192.0.2.1", end)
	succeedAt(t, th, "c", "192.0.2.1", end)
	if wait := waitAt(t, th, "d", "192.0.2.1", end); wait == 0 {
		t.Error("a third login in the window was let through")
	}
}

// Attempts in flight reserve room under the address's failure limit: with
// one failure and two in flight, a limit of three has no room left.
func TestAddressRoomCountsAttemptsInFlight(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1 << 30, AddressFailures: 3, Registrations: 1, Logins: 1 << 30})
	failAt(t, th, "a", "192.0.2.1", boundaryT0)
	for _, user := range []string{"b", "c"} {
		if a, _, _ := th.TryLogin(user, "192.0.2.1", boundaryT0); a == nil {
			t.Fatalf("%s refused with room left", user)
		}
	}
	if a, wait, busy := th.TryLogin("d", "192.0.2.1", boundaryT0); a != nil || wait != 0 || busy == nil {
		t.Errorf("fourth: attempt %v, wait %v, busy %v; want to wait for room", a, wait, busy != nil)
	}
}

// A full table drops what has expired first, and an entry is expired
// exactly at the end of its window or memory.
func TestFullTableDropsEntriesExpiredThisInstant(t *testing.T) {
	fill := func(t *testing.T) *Memory {
		th := newMemory(Limits{LoginFailures: 1 << 30, AddressFailures: 1 << 30, Registrations: 1 << 30, Logins: 1 << 30})
		th.maxEntries = 10
		for i := range 10 {
			ip := fmt.Sprintf("192.0.2.%d", i)
			failAt(t, th, fmt.Sprintf("user%d", i), ip, boundaryT0)
			th.AllowRegistration(ip, boundaryT0)
		}
		return th
	}
	t.Run("accounts", func(t *testing.T) {
		th := fill(t)
		failAt(t, th, "new", "198.51.100.1", boundaryT0.Add(accountMemory))
		if len(th.accounts) != 1 {
			t.Errorf("%d accounts, want 1", len(th.accounts))
		}
	})
	t.Run("address failures and logins", func(t *testing.T) {
		th := fill(t)
		failAt(t, th, "new", "198.51.100.1", boundaryT0.Add(ipFailureWindow))
		if len(th.ipFails) != 1 || len(th.logins) != 1 {
			t.Errorf("%d addresses, %d login counts; want 1 each", len(th.ipFails), len(th.logins))
		}
	})
	t.Run("registrations", func(t *testing.T) {
		th := fill(t)
		th.AllowRegistration("198.51.100.1", boundaryT0.Add(registerWindow))
		if len(th.registers) != 1 {
			t.Errorf("%d registrations, want 1", len(th.registers))
		}
	})
}

// A login in flight holds its address's login count against a spray of new
// addresses: were it evicted, the address would get its logins back.
func TestLoginInFlightKeepsItsAddressCount(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1 << 30, AddressFailures: 1 << 30, Registrations: 1, Logins: 2})
	th.maxEntries = 10
	inFlight, _, _ := th.TryLogin("victim", "192.0.2.1", boundaryT0)
	if inFlight == nil {
		t.Fatal("first login refused")
	}
	for i := range 100 {
		succeedAt(t, th, fmt.Sprintf("spray%d", i), fmt.Sprintf("10.9.0.%d", i), boundaryT0.Add(time.Second))
	}
	inFlight.Succeeded()
	succeedAt(t, th, "victim", "192.0.2.1", boundaryT0.Add(2*time.Second))
	if wait := waitAt(t, th, "victim", "192.0.2.1", boundaryT0.Add(2*time.Second)); wait == 0 {
		t.Error("a third login from the address was let through: its count was evicted while in flight")
	}
}

// The sweep runs once per sweepEvery, exactly: a look a minute after the
// last sweep drops what has expired since.
func TestSweepRunsEveryMinuteExactly(t *testing.T) {
	th := newMemory(Limits{LoginFailures: 1, AddressFailures: 1, Registrations: 1, Logins: 1})
	th.AllowRegistration("192.0.2.1", boundaryT0) // its window ends at t0+1h
	lastSweep := boundaryT0.Add(registerWindow - sweepEvery/2)
	th.AllowRegistration("192.0.2.2", lastSweep) // sweeps; 192.0.2.1 still counts
	if th.registers["192.0.2.1"] == nil {
		t.Fatal("swept before its window ended")
	}
	th.AllowRegistration("192.0.2.2", lastSweep.Add(sweepEvery))
	if th.registers["192.0.2.1"] != nil {
		t.Error("a minute after the last sweep, the expired entry is still there")
	}
}

// A table full of held entries warns in the log at most once a minute,
// and again once a minute has passed.
func TestFullTableWarnsOncePerMinute(t *testing.T) {
	var logs bytes.Buffer
	th := NewMemory(Limits{LoginFailures: 1 << 30, AddressFailures: 1 << 30, Registrations: 1, Logins: 1 << 30, AttemptTimeout: 5 * time.Second},
		slog.New(slog.NewTextHandler(&logs, nil)))
	th.maxEntries = 2
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		if a, _, _ := th.TryLogin("user-"+ip, ip, boundaryT0); a == nil {
			t.Fatalf("%s refused", ip)
		}
		// left in flight: held, never evicted
	}
	warnings := func() int { return strings.Count(logs.String(), "throttle table full") }
	for _, step := range []struct {
		after time.Duration
		want  int
	}{
		{0, 1},
		{30 * time.Second, 1},
		{fullWarnEvery - 10*time.Second, 1}, // each scan holds the table for 5 s only
		{fullWarnEvery, 2},
	} {
		if a, wait, _ := th.TryLogin("newcomer", "198.51.100.1", boundaryT0.Add(step.after)); a != nil || wait == 0 {
			t.Fatalf("at +%v: the newcomer was let into a full table", step.after)
		}
		if got := warnings(); got != step.want {
			t.Errorf("at +%v: %d warnings, want %d", step.after, got, step.want)
		}
	}
}
