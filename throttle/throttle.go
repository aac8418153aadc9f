// Package throttle limits brute force against logins and registrations:
// failed logins per account (growing delays) and per client address, all
// logins per client address, and registrations per client address.
//
// The policy that is the same whatever keeps the counters (which keys are
// counted together, waiting for attempts in flight) is in Throttle; the
// counters are behind Store, in the manner of Echo's RateLimiterStore, so
// several instances can later share them (a SQL store) without changing
// callers. Memory is the store of one process.
package throttle

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Limits are the numbers a Store enforces. All are required (> 0); their
// defaults live in package config.
type Limits struct {
	// LoginFailures is the number of failed logins per account before
	// growing delays start.
	LoginFailures int
	// AddressFailures is the number of failed logins per client address
	// per 15 minutes.
	AddressFailures int
	// Logins is the number of logins per client address per 15 minutes,
	// successful and failed alike.
	Logins int
	// Registrations is the number of registrations per client address per
	// hour.
	Registrations int
	// AttemptTimeout bounds how long a login attempt stays in flight: the
	// caller resolves every attempt within it (it is the bound of the
	// password check). A full table never evicts an entry held by attempts
	// in flight for longer than this.
	AttemptTimeout time.Duration
}

// Validate reports a limit that is not set (each must be > 0).
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		n    int
	}{
		{"LoginFailures", l.LoginFailures},
		{"AddressFailures", l.AddressFailures},
		{"Logins", l.Logins},
		{"Registrations", l.Registrations},
	} {
		if f.n <= 0 {
			return fmt.Errorf("throttle: %s (%d) must be positive", f.name, f.n)
		}
	}
	if l.AttemptTimeout <= 0 {
		return fmt.Errorf("throttle: AttemptTimeout (%v) must be positive", l.AttemptTimeout)
	}
	return nil
}

// Store keeps the counters. Keys come normalized (AccountKey, AddressKey).
// Implementations are safe for concurrent use.
type Store interface {
	// TryLogin is one look at the limits, without waiting. It returns
	// exactly one of: an attempt (counted as in flight, and as one of the
	// address's logins), a wait (> 0: refused, nothing counted), or a
	// channel closed when an attempt in flight resolves, after which the
	// caller looks again.
	TryLogin(account, address string, now time.Time) (Attempt, time.Duration, <-chan struct{})
	// AllowRegistration counts one registration of the address and returns
	// 0, or how long to wait (> 0) when the limit is spent.
	AllowRegistration(address string, now time.Time) time.Duration
	// RegistrationAborted takes back a registration whose work did not
	// happen.
	RegistrationAborted(address string)
}

// Attempt is a login that passed the throttle and is being checked. It ends
// in exactly one of Succeeded, Failed or Aborted; later calls do nothing, so
// a deferred Failed is a safe default.
type Attempt interface {
	// Succeeded forgets the account's failures; the login stays counted.
	Succeeded()
	// Failed counts a failure for the account and the address.
	Failed()
	// Aborted takes the attempt back entirely: the check did not happen (a
	// store error, no hashing slot in time, the client left).
	Aborted()
}

// Throttle applies the limits of a Store to usernames and client addresses.
type Throttle struct {
	store Store
}

// New returns a Throttle over store.
func New(store Store) *Throttle { return &Throttle{store: store} }

// BeginLogin returns an attempt to check, or how long the caller must wait
// (> 0: refuse, and check nothing), or ctx's error when ctx ended while
// attempts in flight left no room (see Memory.TryLogin). now is read afresh
// after each wait.
func (t *Throttle) BeginLogin(ctx context.Context, username, ip string, now func() time.Time) (Attempt, time.Duration, error) {
	account, addr := AccountKey(username), AddressKey(ip)
	for {
		a, wait, busy := t.store.TryLogin(account, addr, now())
		if busy == nil {
			return a, wait, nil
		}
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// AllowRegistration counts one registration from ip and returns 0, or how
// long to wait (> 0) when the hourly limit is spent.
func (t *Throttle) AllowRegistration(ip string, now time.Time) time.Duration {
	return t.store.AllowRegistration(AddressKey(ip), now)
}

// RegistrationAborted takes back a registration AllowRegistration counted
// whose work did not happen (the server was too busy to hash).
func (t *Throttle) RegistrationAborted(ip string) {
	t.store.RegistrationAborted(AddressKey(ip))
}

// AccountKey folds case: the store treats usernames case-insensitively, so
// "Ada" and "ada" share one budget.
func AccountKey(username string) string { return strings.ToLower(username) }

// ipv6CountedPrefix is the IPv6 prefix length counted as one client.
//
// Counting single IPv6 addresses would give anyone with a /64 (every
// customer) 2^64 budgets. Counting /64s still gives 256 budgets to every
// holder of a /56, which is what many ISPs delegate to a home (RIPE-690
// recommends /56 or /48) and what a cloud VPC gets; an attacker rents one
// cheaply. So a /56 is one client. The cost: where an ISP gives each
// customer only a /64 (mobile networks), up to 256 customers share one
// budget (IP_FAILURE_LIMIT failed logins per 15 minutes, REGISTER_RATE_LIMIT
// registrations an hour), which honest users rarely come near; the per-
// account limit does not depend on it. A /48 would make that sharing 65536
// customers wide, too wide for the per-address limits to stay harmless.
const ipv6CountedPrefix = 56

// AddressKey is the unit a client address is counted in: an IPv4 address,
// or an IPv6 /56 (see ipv6CountedPrefix).
func AddressKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(ipv6CountedPrefix)
		return p.String()
	}
	return addr.String()
}
