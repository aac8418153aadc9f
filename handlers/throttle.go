package handlers

// Brute-force throttling of logins and registrations.
//
// The state lives in this process's memory, bounded in size. Several app
// instances behind one load balancer would each count on their own (an
// attacker spread over N instances gets N times the attempts); that step
// needs the counters in the shared store (PostgreSQL) or a shared cache.

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Throttle defaults, used when a Settings limit is zero.
const (
	defaultLoginFailureLimit = 5
	defaultIPFailureLimit    = 50
	defaultRegisterLimit     = 30
)

// Throttle windows and delays.
const (
	// accountBaseDelay is the wait after LoginFailureLimit failures of one
	// account; each further failure doubles it, up to accountMaxDelay.
	accountBaseDelay = 30 * time.Second
	// accountMaxDelay caps the wait, so an attacker can never lock an
	// account for longer than this with one attempt.
	accountMaxDelay = 15 * time.Minute
	// accountMemory is how long an account's failures are remembered after
	// the last one; a success forgets them at once.
	accountMemory = 24 * time.Hour
	// ipFailureWindow is the window of IPFailureLimit.
	ipFailureWindow = 15 * time.Minute
	// registerWindow is the window of RegisterRateLimit.
	registerWindow = time.Hour
	// maxThrottleEntries bounds each table (about 150 bytes an entry). When
	// a table is full even after dropping expired entries, a random entry
	// makes room: memory stays bounded whatever an attacker sends.
	maxThrottleEntries = 10_000
	// sweepEvery is how often expired entries are dropped, lazily, on use.
	sweepEvery = time.Minute
)

// accountFailures is the failure record of one username.
type accountFailures struct {
	count       int       // failures since the last success
	last        time.Time // time of the last failure
	lockedUntil time.Time // no attempt is checked before this time
}

// window counts events of one client address in a fixed window.
type window struct {
	start time.Time
	count int
}

// throttle counts failed logins per account and per client address, and
// registrations per client address. It is safe for concurrent use.
type throttle struct {
	loginLimit    int
	ipLimit       int
	registerLimit int
	maxEntries    int

	mu        sync.Mutex
	accounts  map[string]*accountFailures
	ipFails   map[string]*window
	registers map[string]*window
	lastSweep time.Time
}

func newThrottle(s Settings) *throttle {
	orDefault := func(v, def int) int {
		if v <= 0 {
			return def
		}
		return v
	}
	return &throttle{
		loginLimit:    orDefault(s.LoginFailureLimit, defaultLoginFailureLimit),
		ipLimit:       orDefault(s.IPFailureLimit, defaultIPFailureLimit),
		registerLimit: orDefault(s.RegisterRateLimit, defaultRegisterLimit),
		maxEntries:    maxThrottleEntries,
		accounts:      map[string]*accountFailures{},
		ipFails:       map[string]*window{},
		registers:     map[string]*window{},
	}
}

// loginAttempt is a login that passed the throttle. It already counts as a
// failure (so a burst of parallel guesses cannot all slip past the check);
// succeeded and aborted take that back.
type loginAttempt struct {
	t       *throttle
	account string
	ip      string
}

// beginLogin returns how long the caller must wait (> 0: answer 429 and
// check nothing), or an attempt that is counted as failed until told
// otherwise. Attempts refused here are not counted, so the wait always
// expires on its own: hammering a locked account does not extend its lock.
func (t *throttle) beginLogin(username, ip string, now time.Time) (*loginAttempt, time.Duration) {
	account, addr := accountKey(username), addressKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybeSweep(now)

	w := t.ipFails[addr]
	if w != nil && now.Sub(w.start) >= ipFailureWindow {
		w = nil
		delete(t.ipFails, addr)
	}
	if w != nil && w.count >= t.ipLimit {
		return nil, w.start.Add(ipFailureWindow).Sub(now)
	}
	a := t.accounts[account]
	if a != nil && now.Sub(a.last) >= accountMemory && !now.Before(a.lockedUntil) {
		a = nil // quiet long enough: a clean slate
		delete(t.accounts, account)
	}
	if a != nil && now.Before(a.lockedUntil) {
		return nil, a.lockedUntil.Sub(now)
	}

	if w == nil {
		w = &window{start: now}
		insert(t, t.ipFails, addr, w, now)
	}
	w.count++
	if a == nil {
		a = &accountFailures{}
		insert(t, t.accounts, account, a, now)
	}
	a.count++
	a.last = now
	if a.count >= t.loginLimit {
		a.lockedUntil = now.Add(accountDelay(a.count - t.loginLimit))
	}
	return &loginAttempt{t: t, account: account, ip: addr}, 0
}

// accountDelay is accountBaseDelay doubled n times, at most accountMaxDelay.
func accountDelay(n int) time.Duration {
	d := accountBaseDelay
	for ; n > 0 && d < accountMaxDelay; n-- {
		d *= 2
	}
	return min(d, accountMaxDelay)
}

// succeeded forgets the account's failures and takes back the attempt from
// the address's count. Other failures of the address stay: logging in to
// one's own account must not reset a guessing budget for others.
func (a *loginAttempt) succeeded() {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.accounts, a.account)
	if w := t.ipFails[a.ip]; w != nil && w.count > 0 {
		w.count--
	}
}

// aborted takes the attempt back entirely: the check did not happen (a
// store error), which is not the caller's failure. A lock it set stays
// until it expires.
func (a *loginAttempt) aborted() {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if acc := t.accounts[a.account]; acc != nil && acc.count > 0 {
		acc.count--
	}
	if w := t.ipFails[a.ip]; w != nil && w.count > 0 {
		w.count--
	}
}

// allowRegistration counts one registration attempt of the address and
// returns 0, or how long to wait (> 0) when the hourly limit is spent.
func (t *throttle) allowRegistration(ip string, now time.Time) time.Duration {
	addr := addressKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybeSweep(now)
	w := t.registers[addr]
	if w == nil || now.Sub(w.start) >= registerWindow {
		w = &window{start: now}
		insert(t, t.registers, addr, w, now)
	}
	if w.count >= t.registerLimit {
		return w.start.Add(registerWindow).Sub(now)
	}
	w.count++
	return 0
}

// insert adds an entry, making room first when the table is full. Called
// with t.mu held.
func insert[V any](t *throttle, m map[string]V, key string, v V, now time.Time) {
	if _, ok := m[key]; !ok && len(m) >= t.maxEntries {
		t.maybeSweep(now)
		for len(m) >= t.maxEntries {
			for k := range m { // map order is random: a random victim
				delete(m, k)
				break
			}
		}
	}
	m[key] = v
}

// maybeSweep drops expired entries at most once per sweepEvery. Called with
// t.mu held.
func (t *throttle) maybeSweep(now time.Time) {
	if now.Sub(t.lastSweep) < sweepEvery {
		return
	}
	t.sweep(now)
	t.lastSweep = now
}

func (t *throttle) sweep(now time.Time) {
	for k, a := range t.accounts {
		if now.Sub(a.last) >= accountMemory && !now.Before(a.lockedUntil) {
			delete(t.accounts, k)
		}
	}
	for k, w := range t.ipFails {
		if now.Sub(w.start) >= ipFailureWindow {
			delete(t.ipFails, k)
		}
	}
	for k, w := range t.registers {
		if now.Sub(w.start) >= registerWindow {
			delete(t.registers, k)
		}
	}
}

// accountKey folds case: the store treats usernames case-insensitively, so
// "Ada" and "ada" share one budget.
func accountKey(username string) string { return strings.ToLower(username) }

// addressKey is the unit a client address is counted in: an IPv4 address,
// or an IPv6 /64 (one customer usually holds a whole /64, so counting single
// IPv6 addresses would give an attacker 2^64 budgets).
func addressKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// retryAfterSeconds renders a wait for the Retry-After header: whole
// seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
