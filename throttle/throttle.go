// Package throttle limits brute force against logins and registrations:
// failed logins per account (growing delays) and per client address, all
// logins per client address, and registrations per client address.
//
// The policy that is the same whatever keeps the counters (which keys are
// counted together, waiting for attempts in flight) is in Throttle; the
// counters are behind Store, in the manner of Echo's RateLimiterStore, so
// several instances share them (store/postgres Throttle) without changing
// callers. Memory is the store of one process. throttletest is the
// contract both pass.
package throttle

import (
	"context"
	"errors"
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
// Implementations are safe for concurrent use; a shared one (a SQL store)
// is shared by every instance of the app, so a brute force spread over
// them is counted as one.
type Store interface {
	// BeginLogin is one look at the limits, without waiting. It returns
	// exactly one of: an attempt (counted as in flight, and as one of the
	// address's logins), a wait (> 0: refused, nothing counted), a channel
	// closed when the caller may look again (an attempt in flight may have
	// resolved), or an error: the counters could not be read, so nothing
	// may be checked (see ErrUnavailable).
	BeginLogin(ctx context.Context, account, address string, now time.Time) (Attempt, time.Duration, <-chan struct{}, error)
	// CountRegistration counts one registration of the address and
	// returns 0, or how long to wait (> 0) when the limit is spent, or an
	// error when the counters could not be read or written.
	CountRegistration(ctx context.Context, address string, now time.Time) (time.Duration, error)
	// UncountRegistration takes back a registration whose work did not
	// happen. A store that cannot write logs it: the registration stays
	// counted, which errs on the safe side.
	UncountRegistration(ctx context.Context, address string)
}

// ErrUnavailable wraps every error of a Store: the counters could not be
// read or written. The throttle then fails closed: no password is checked
// and no account is created until the counters answer again, because a
// throttle that fails open turns an outage of its store (which an attacker
// may be able to provoke, by load) into unlimited guessing for as long as it
// lasts. Callers answer 503 with a Retry-After.
var ErrUnavailable = errors.New("throttle: counters unavailable")

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
// attempts in flight left no room (see Memory.TryLogin), or an error
// wrapping ErrUnavailable when the store failed (fail closed). now is read
// afresh after each wait.
func (t *Throttle) BeginLogin(ctx context.Context, username, ip string, now func() time.Time) (Attempt, time.Duration, error) {
	account, addr := AccountKey(username), AddressKey(ip)
	for {
		a, wait, busy, err := t.store.BeginLogin(ctx, account, addr, now())
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, 0, ctxErr
			}
			return nil, 0, unavailable(err)
		}
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
// long to wait (> 0) when the hourly limit is spent, or an error wrapping
// ErrUnavailable when the store failed (fail closed).
func (t *Throttle) AllowRegistration(ctx context.Context, ip string, now time.Time) (time.Duration, error) {
	wait, err := t.store.CountRegistration(ctx, AddressKey(ip), now)
	if err != nil {
		return 0, unavailable(err)
	}
	return wait, nil
}

// RegistrationAborted takes back a registration AllowRegistration counted
// whose work did not happen (the server was too busy to hash).
func (t *Throttle) RegistrationAborted(ctx context.Context, ip string) {
	t.store.UncountRegistration(ctx, AddressKey(ip))
}

func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
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

// The windows and delays every Store applies, named once for the stores
// outside this package (the SQL store) to share with Memory.
const (
	// AccountMemory is how long an account's failures are remembered.
	AccountMemory = accountMemory
	// AddressWindow is the window of Limits.AddressFailures and Limits.Logins.
	AddressWindow = ipFailureWindow
	// RegistrationWindow is the window of Limits.Registrations.
	RegistrationWindow = registerWindow
)

// AccountDelay is the wait after the account's failure that is n past
// Limits.LoginFailures (n = 0 for the failure that reaches it).
func AccountDelay(n int) time.Duration { return accountDelay(n) }
