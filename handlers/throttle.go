package handlers

// Brute-force throttling of logins and registrations.
//
// The state lives in this process's memory, bounded in size. Several app
// instances behind one load balancer would each count on their own (an
// attacker spread over N instances gets N times the attempts); that step
// needs the counters in the shared store (PostgreSQL) or a shared cache.

import (
	"cmp"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// The limits themselves (LoginFailureLimit, IPFailureLimit,
// RegisterRateLimit) have their defaults in one place, package config; New
// refuses a Settings without them.

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
	// maxThrottleEntries bounds each table (about 150 bytes an entry), so
	// memory stays bounded whatever an attacker sends. See makeRoom for what
	// happens when a table is full.
	maxThrottleEntries = 10_000
	// evictBatch is the share of a full table evicted at once (1/16), so a
	// spray of new names pays for one scan per batch, not one per request.
	evictBatch = 16
	// fullWarnEvery limits the "table full" warning in the log.
	fullWarnEvery = time.Minute
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

	log *slog.Logger // nil: no warnings

	mu           sync.Mutex
	accounts     map[string]*accountFailures
	ipFails      map[string]*window
	registers    map[string]*window
	lastSweep    time.Time
	lastFullWarn time.Time
	// noRoomUntil is, per table, when its first hold ends, after a scan found
	// every entry held: until then a newcomer is refused without another
	// scan (one is 0.3 ms at 10,000 entries, under the lock).
	noRoomUntil map[string]time.Time
}

// newThrottle needs positive limits (New checks them).
func newThrottle(s Settings, log *slog.Logger) *throttle {
	return &throttle{
		loginLimit:    s.LoginFailureLimit,
		ipLimit:       s.IPFailureLimit,
		registerLimit: s.RegisterRateLimit,
		maxEntries:    maxThrottleEntries,
		log:           log,
		accounts:      map[string]*accountFailures{},
		ipFails:       map[string]*window{},
		registers:     map[string]*window{},
		noRoomUntil:   map[string]time.Time{},
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
// When a table is full of locked entries, a newcomer waits too (makeRoom).
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

	// Room for both records first, so a refusal counts nothing anywhere.
	if w == nil {
		if wait := makeRoom(t, t.ipFails, "addresses", now, t.ipSlot); wait > 0 {
			return nil, wait
		}
	}
	if a == nil {
		if wait := makeRoom(t, t.accounts, "accounts", now, t.accountSlot); wait > 0 {
			return nil, wait
		}
	}
	if w == nil {
		w = &window{start: now}
		t.ipFails[addr] = w
	}
	w.count++
	if a == nil {
		a = &accountFailures{}
		t.accounts[account] = a
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
		if w == nil {
			if wait := makeRoom(t, t.registers, "registrations", now, t.registerSlot); wait > 0 {
				return wait
			}
		}
		w = &window{start: now}
		t.registers[addr] = w
	}
	if w.count >= t.registerLimit {
		return w.start.Add(registerWindow).Sub(now)
	}
	w.count++
	return 0
}

// registrationAborted takes back a registration allowRegistration counted
// whose work did not happen (the server was too busy to hash).
func (t *throttle) registrationAborted(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.registers[addressKey(ip)]; w != nil && w.count > 0 {
		w.count--
	}
}

// slot is what makeRoom needs to know about an entry.
type slot struct {
	expired   bool      // nothing left to remember: drop it
	heldUntil time.Time // locked or over its limit until then: never evicted
	count     int       // failures or registrations remembered
	since     time.Time // when the entry's memory started or last grew
}

func (t *throttle) accountSlot(a *accountFailures, now time.Time) slot {
	return slot{
		expired:   now.Sub(a.last) >= accountMemory && !now.Before(a.lockedUntil),
		heldUntil: a.lockedUntil,
		count:     a.count,
		since:     a.last,
	}
}

func (t *throttle) ipSlot(w *window, now time.Time) slot {
	return windowSlot(w, now, ipFailureWindow, t.ipLimit)
}

func (t *throttle) registerSlot(w *window, now time.Time) slot {
	return windowSlot(w, now, registerWindow, t.registerLimit)
}

func windowSlot(w *window, now time.Time, length time.Duration, limit int) slot {
	s := slot{expired: now.Sub(w.start) >= length, count: w.count, since: w.start}
	if w.count >= limit {
		s.heldUntil = w.start.Add(length)
	}
	return s
}

// makeRoom is called before a new key is added to a full table m. It
// returns 0 once there is room, or how long until there may be (> 0) when
// every entry is held: then the newcomer is refused, not recorded.
//
// What an eviction costs: the table forgets what it counted, which helps an
// attacker and nobody else. An attacker who sprays new usernames or
// addresses to fill the table must therefore not be able to flush a record
// that matters. So:
//
//   - Expired entries go first (they are forgotten anyway).
//   - Held entries (a locked account, an address over its limit) are never
//     evicted: flushing them would lift the lock at once.
//   - The rest go in order of fewest counts, then oldest: a spray of fresh
//     names (one failure each) evicts its own kind first, and flushing a
//     record of n failures takes a table of entries with n or more each,
//     which the limits make slow to build.
//   - If every entry is held, the newcomer is refused (429 with the time
//     until the first hold ends) rather than let through uncounted: the
//     opposite would give unlimited guesses at every account the table does
//     not hold. Refusing trades security for availability only while an
//     attacker keeps thousands of accounts locked or addresses over their
//     limit, a sustained and visible attack (warned in the log); raising
//     maxThrottleEntries (150 bytes an entry) makes it dearer.
//
// A batch of 1/evictBatch of the table goes at once, so a spray of new names
// costs one scan of the table per batch. Called with t.mu held.
func makeRoom[V any](t *throttle, m map[string]V, table string, now time.Time, describe func(V, time.Time) slot) time.Duration {
	if len(m) < t.maxEntries {
		return 0
	}
	if until := t.noRoomUntil[table]; now.Before(until) {
		// Still full of held entries (a hold lifted early, by a success or
		// an aborted attempt, waits for this at most).
		return until.Sub(now)
	}
	type candidate struct {
		key string
		slot
	}
	var evictable []candidate
	var firstFree time.Time
	for k, v := range m {
		s := describe(v, now)
		switch {
		case s.expired:
			delete(m, k)
		case now.Before(s.heldUntil):
			if firstFree.IsZero() || s.heldUntil.Before(firstFree) {
				firstFree = s.heldUntil
			}
		default:
			evictable = append(evictable, candidate{k, s})
		}
	}
	if len(m) < t.maxEntries {
		return 0
	}
	if len(evictable) == 0 {
		if t.log != nil && now.Sub(t.lastFullWarn) >= fullWarnEvery {
			t.lastFullWarn = now
			t.log.Warn("throttle table full of locked entries: refusing new ones", "table", table, "entries", len(m))
		}
		t.noRoomUntil[table] = firstFree
		return max(firstFree.Sub(now), time.Second)
	}
	slices.SortFunc(evictable, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.count, b.count), a.since.Compare(b.since), strings.Compare(a.key, b.key))
	})
	n := max(len(m)-t.maxEntries+1, t.maxEntries/evictBatch)
	for _, c := range evictable[:min(n, len(evictable))] {
		delete(m, c.key)
	}
	return 0
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
	sweepTable(t.accounts, now, t.accountSlot)
	sweepTable(t.ipFails, now, t.ipSlot)
	sweepTable(t.registers, now, t.registerSlot)
}

func sweepTable[V any](m map[string]V, now time.Time, describe func(V, time.Time) slot) {
	for k, v := range m {
		if describe(v, now).expired {
			delete(m, k)
		}
	}
}

// accountKey folds case: the store treats usernames case-insensitively, so
// "Ada" and "ada" share one budget.
func accountKey(username string) string { return strings.ToLower(username) }

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

// addressKey is the unit a client address is counted in: an IPv4 address,
// or an IPv6 /56 (see ipv6CountedPrefix).
func addressKey(ip string) string {
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

// retryAfterSeconds renders a wait for the Retry-After header: whole
// seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
