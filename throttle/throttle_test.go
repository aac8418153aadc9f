package throttle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The keys are the policy every store shares: an attacker must not get a
// fresh budget by changing the case of a username or the low bits of an
// IPv6 address.
func TestThrottleCountsKeysTogether(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return t0 }
	th := New(newMemory(Limits{LoginFailures: 2, AddressFailures: 3, Registrations: 1, Logins: 1 << 30}))
	fail := func(username, ip string) time.Duration {
		t.Helper()
		a, wait, err := th.BeginLogin(context.Background(), username, ip, now)
		if err != nil {
			t.Fatal(err)
		}
		if a != nil {
			a.Failed()
		}
		return wait
	}
	fail("Ada", "192.0.2.1")
	fail("ada", "192.0.2.2")
	if wait := fail("ADA", "192.0.2.3"); wait != 30*time.Second {
		t.Errorf("third guess at Ada in another case: wait %v, want 30s", wait)
	}

	fail("u1", "2001:db8:1:1::1")
	fail("u2", "2001:db8:1:2::1")
	fail("u3", "2001:db8:1:ff::1")
	if wait := fail("u4", "2001:db8:1:42::7"); wait != ipFailureWindow {
		t.Errorf("fourth failure from the same /56: wait %v, want %v", wait, ipFailureWindow)
	}
	if wait := fail("u5", "2001:db8:1:100::1"); wait != 0 {
		t.Errorf("another /56 waits %v", wait)
	}

	allow := func(ip string) time.Duration {
		t.Helper()
		wait, err := th.AllowRegistration(context.Background(), ip, t0)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}
	if wait := allow("::ffff:198.51.100.1"); wait != 0 {
		t.Fatalf("first registration waits %v", wait)
	}
	if wait := allow("198.51.100.1"); wait != registerWindow {
		t.Errorf("the same IPv4 address, unmapped: wait %v, want %v", wait, registerWindow)
	}
	th.RegistrationAborted(context.Background(), "198.51.100.1")
	if wait := allow("::ffff:198.51.100.1"); wait != 0 {
		t.Errorf("after an aborted registration: wait %v, want 0", wait)
	}
}

// A login waiting for room gives up when its context ends, and counts
// nothing.
func TestBeginLoginWaitEndsWithContext(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := New(newMemory(Limits{LoginFailures: 1, AddressFailures: 1 << 30, Registrations: 1, Logins: 1 << 30}))
	first, _, err := th.BeginLogin(context.Background(), "acct", "192.0.2.1", func() time.Time { return t0 })
	if err != nil || first == nil {
		t.Fatalf("first attempt: %v, %v", first, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if a, _, err := th.BeginLogin(ctx, "acct", "192.0.2.1", func() time.Time { return t0 }); a != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("second attempt beside the first: %v, %v; want context.Canceled", a, err)
	}
	first.Succeeded()
	if a, wait, err := th.BeginLogin(context.Background(), "acct", "192.0.2.1", func() time.Time { return t0 }); a == nil || wait != 0 || err != nil {
		t.Fatalf("after the first resolved: %v, %v, %v", a, wait, err)
	}
}

// The limits have one default, in config; a Limits with one left out is
// refused, not taken as "no limit".
func TestLimitsValidateRequiresEveryLimit(t *testing.T) {
	whole := Limits{LoginFailures: 5, AddressFailures: 50, Logins: 100, Registrations: 30, AttemptTimeout: time.Second}
	if err := whole.Validate(); err != nil {
		t.Fatalf("complete limits: %v", err)
	}
	for name, edit := range map[string]func(*Limits){
		"LoginFailures":   func(l *Limits) { l.LoginFailures = 0 },
		"AddressFailures": func(l *Limits) { l.AddressFailures = 0 },
		"Logins":          func(l *Limits) { l.Logins = 0 },
		"Registrations":   func(l *Limits) { l.Registrations = -1 },
		"AttemptTimeout":  func(l *Limits) { l.AttemptTimeout = 0 },
	} {
		l := whole
		edit(&l)
		if err := l.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s unset: err %v", name, err)
		}
	}
}
