package throttle

// Memory is the counter store in this process's memory, bounded in size.
// Several app instances behind one load balancer would each count on their
// own (an attacker spread over N instances gets N times the attempts), so
// the app uses it only on SQLite; on PostgreSQL the counters are shared
// (store/postgres Throttle).

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Throttle windows and delays.
const (
	// accountBaseDelay is the wait after Limits.LoginFailures failures of one
	// account; each further failure doubles it, up to accountMaxDelay.
	accountBaseDelay = 30 * time.Second
	// accountMaxDelay caps the wait, so an attacker can never lock an
	// account for longer than this with one attempt.
	accountMaxDelay = 15 * time.Minute
	// accountMemory is how long an account's failures are remembered after
	// the last one; a success forgets them at once.
	accountMemory = 24 * time.Hour
	// ipFailureWindow is the window of Limits.AddressFailures and Limits.Logins.
	ipFailureWindow = 15 * time.Minute
	// registerWindow is the window of Limits.Registrations.
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

// inFlight counts the attempts of one record that passed the throttle and
// are being checked. They are neither failures nor successes yet; each
// resolution wakes whoever waits for room (see TryLogin).
type inFlight struct {
	n       int
	changed chan struct{} // made by the first waiter, closed by the next resolution
}

// waitChan returns a channel closed when an attempt of the record resolves.
// Called with t.mu held.
func (f *inFlight) waitChan() <-chan struct{} {
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

// resolve ends one attempt in flight and wakes the waiters. Called with
// t.mu held.
func (f *inFlight) resolve() {
	if f.n > 0 {
		f.n--
	}
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// accountFailures is the failure record of one username.
type accountFailures struct {
	count       int       // failures since the last success
	last        time.Time // time of the last failure
	lockedUntil time.Time // no attempt is checked before this time
	inFlight
}

// window counts events of one client address in a fixed window.
type window struct {
	start time.Time
	count int
	inFlight
}

// restartIfOver starts a new window in place when the current one is over.
// In place, not replaced: attempts in flight hold the record, and their
// results belong to the window they end in.
func (w *window) restartIfOver(now time.Time, length time.Duration) {
	if now.Sub(w.start) >= length {
		w.start, w.count = now, 0
	}
}

// Memory counts failed logins per account and per client address, all
// logins per client address, and registrations per client address. It is
// safe for concurrent use.
type Memory struct {
	loginLimit     int
	ipLimit        int
	registerLimit  int
	loginRateLimit int
	maxEntries     int
	// inFlightHold is how long an entry with attempts in flight counts as
	// held when a full table looks for room (Limits.AttemptTimeout).
	inFlightHold time.Duration

	log *slog.Logger // nil: no warnings

	mu           sync.Mutex
	accounts     map[string]*accountFailures
	ipFails      map[string]*window
	registers    map[string]*window
	logins       map[string]*window // every login of an address, for LoginRateLimit
	lastSweep    time.Time
	lastFullWarn time.Time
	// noRoomUntil is, per table, when its first hold ends, after a scan found
	// every entry held: until then a newcomer is refused without another
	// scan (one is 0.3 ms at 10,000 entries, under the lock).
	noRoomUntil map[string]time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory needs positive limits (the caller checks them; the defaults
// live in package config). log may be nil: no warnings.
func NewMemory(l Limits, log *slog.Logger) *Memory {
	return &Memory{
		loginLimit:     l.LoginFailures,
		ipLimit:        l.AddressFailures,
		registerLimit:  l.Registrations,
		loginRateLimit: l.Logins,
		maxEntries:     maxThrottleEntries,
		inFlightHold:   l.AttemptTimeout,
		log:            log,
		accounts:       map[string]*accountFailures{},
		ipFails:        map[string]*window{},
		registers:      map[string]*window{},
		logins:         map[string]*window{},
		noRoomUntil:    map[string]time.Time{},
	}
}

// loginAttempt is Memory's Attempt. It holds its records, which are never
// evicted while it is in flight.
type loginAttempt struct {
	t        *Memory
	account  string // accountKey, to forget an emptied record
	began    time.Time
	acc      *accountFailures
	failures *window // the address's failed logins
	logins   *window // the address's logins
	done     bool
}

// TryLogin is one look at the limits, without waiting (see Store). account
// and address are keys (AccountKey, AddressKey).
//
// Attempts in flight are not failures: counting them as failed until told
// otherwise made correct logins at once throttle one another. Nor may they
// be ignored: a burst of parallel guesses would all slip past the check
// before the first failed. So an attempt reserves room under the failure
// limits, and when the failures so far plus the attempts in flight fill it,
// the next one waits for one to resolve, then looks again: correct logins
// go on in turn, while a burst of wrong guesses gets no more checks than
// failures are left, and the rest find the account locked. Past the
// account's limit, once its wait ended, one attempt at a time is checked.
//
// Refused attempts are not counted, so the wait always expires on its own:
// hammering a locked account does not extend its lock. When a table is
// full of held entries, a newcomer waits too (makeRoom).
func (t *Memory) TryLogin(account, addr string, now time.Time) (Attempt, time.Duration, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybeSweep(now)

	w, l, a := t.ipFails[addr], t.logins[addr], t.accounts[account]
	if w != nil {
		w.restartIfOver(now, ipFailureWindow)
	}
	if l != nil {
		l.restartIfOver(now, ipFailureWindow)
	}
	if a != nil && now.Sub(a.last) >= accountMemory && !now.Before(a.lockedUntil) {
		a.count, a.lockedUntil = 0, time.Time{} // quiet long enough: a clean slate
	}

	// The longest wait that applies: a shorter one would only be refused
	// again when it ends.
	var wait time.Duration
	if w != nil && w.count >= t.ipLimit {
		wait = max(wait, w.start.Add(ipFailureWindow).Sub(now))
	}
	if l != nil && l.count >= t.loginRateLimit {
		wait = max(wait, l.start.Add(ipFailureWindow).Sub(now))
	}
	if a != nil && now.Before(a.lockedUntil) {
		wait = max(wait, a.lockedUntil.Sub(now))
	}
	if wait > 0 {
		return nil, wait, nil
	}
	if a != nil && a.n >= max(t.loginLimit-a.count, 1) {
		return nil, 0, a.waitChan()
	}
	if w != nil && w.n >= t.ipLimit-w.count {
		return nil, 0, w.waitChan()
	}

	// Room for every record first, so a refusal counts nothing anywhere.
	if w == nil {
		if wait := makeRoom(t, t.ipFails, "addresses", now, t.ipSlot); wait > 0 {
			return nil, wait, nil
		}
	}
	if l == nil {
		if wait := makeRoom(t, t.logins, "logins", now, t.loginSlot); wait > 0 {
			return nil, wait, nil
		}
	}
	if a == nil {
		if wait := makeRoom(t, t.accounts, "accounts", now, t.accountSlot); wait > 0 {
			return nil, wait, nil
		}
	}
	if w == nil {
		w = &window{start: now}
		t.ipFails[addr] = w
	}
	if l == nil {
		l = &window{start: now}
		t.logins[addr] = l
	}
	if a == nil {
		a = &accountFailures{}
		t.accounts[account] = a
	}
	w.n++
	a.n++
	l.n++
	l.count++ // a login, whatever its result; aborted takes it back
	return &loginAttempt{t: t, account: account, began: now, acc: a, failures: w, logins: l}, 0, nil
}

// accountDelay is accountBaseDelay doubled n times, at most accountMaxDelay.
func accountDelay(n int) time.Duration {
	d := accountBaseDelay
	for ; n > 0 && d < accountMaxDelay; n-- {
		d *= 2
	}
	return min(d, accountMaxDelay)
}

// resolve ends the attempt once: outcome runs under the lock, then every
// record's waiters are woken.
func (a *loginAttempt) resolve(outcome func()) {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.done {
		return
	}
	a.done = true
	outcome()
	a.acc.resolve()
	a.failures.resolve()
	a.logins.resolve()
	// An account with nothing left to remember goes at once.
	if a.acc.n == 0 && a.acc.count == 0 && t.accounts[a.account] == a.acc {
		delete(t.accounts, a.account)
	}
}

// Succeeded forgets the account's failures (and any wait they set). The
// address's failures stay, and the login stays counted: logging in to one's
// own account must not reset a guessing budget for others.
func (a *loginAttempt) Succeeded() {
	a.resolve(func() { a.acc.count, a.acc.lockedUntil = 0, time.Time{} })
}

// Failed counts a failure for the account and the address, as of when the
// attempt began; at LoginFailureLimit the account waits, longer with each
// further failure.
func (a *loginAttempt) Failed() {
	a.resolve(func() {
		acc := a.acc
		acc.count++
		acc.last = a.began
		if acc.count >= a.t.loginLimit {
			acc.lockedUntil = a.began.Add(accountDelay(acc.count - a.t.loginLimit))
		}
		a.failures.count++
	})
}

// Aborted takes the attempt back entirely: the check did not happen (a
// store error, no hashing slot in time, the client left), which is not the
// caller's failure, nor a login.
func (a *loginAttempt) Aborted() {
	a.resolve(func() {
		if a.logins.count > 0 {
			a.logins.count--
		}
	})
}

// AllowRegistration counts one registration attempt of the address and
// returns 0, or how long to wait (> 0) when the hourly limit is spent.
func (t *Memory) AllowRegistration(addr string, now time.Time) time.Duration {
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

// RegistrationAborted takes back a registration AllowRegistration counted
// whose work did not happen (the server was too busy to hash).
func (t *Memory) RegistrationAborted(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.registers[addr]; w != nil && w.count > 0 {
		w.count--
	}
}

// BeginLogin is TryLogin as a Store; memory never fails.
func (t *Memory) BeginLogin(_ context.Context, account, addr string, now time.Time) (Attempt, time.Duration, <-chan struct{}, error) {
	a, wait, busy := t.TryLogin(account, addr, now)
	return a, wait, busy, nil
}

// CountRegistration is AllowRegistration as a Store; memory never fails.
func (t *Memory) CountRegistration(_ context.Context, addr string, now time.Time) (time.Duration, error) {
	return t.AllowRegistration(addr, now), nil
}

// UncountRegistration is RegistrationAborted as a Store.
func (t *Memory) UncountRegistration(_ context.Context, addr string) { t.RegistrationAborted(addr) }

// slot is what makeRoom needs to know about an entry.
type slot struct {
	expired   bool      // nothing left to remember: drop it
	heldUntil time.Time // locked or over its limit until then: never evicted
	count     int       // failures or registrations remembered
	since     time.Time // when the entry's memory started or last grew
}

func (t *Memory) accountSlot(a *accountFailures, now time.Time) slot {
	return a.inFlight.hold(now, t.inFlightHold, slot{
		expired:   now.Sub(a.last) >= accountMemory && !now.Before(a.lockedUntil),
		heldUntil: a.lockedUntil,
		count:     a.count,
		since:     a.last,
	})
}

func (t *Memory) ipSlot(w *window, now time.Time) slot {
	return windowSlot(w, now, ipFailureWindow, t.ipLimit, t.inFlightHold)
}

func (t *Memory) loginSlot(w *window, now time.Time) slot {
	return windowSlot(w, now, ipFailureWindow, t.loginRateLimit, t.inFlightHold)
}

func (t *Memory) registerSlot(w *window, now time.Time) slot {
	return windowSlot(w, now, registerWindow, t.registerLimit, t.inFlightHold)
}

func windowSlot(w *window, now time.Time, length time.Duration, limit int, hold time.Duration) slot {
	s := slot{expired: now.Sub(w.start) >= length, count: w.count, since: w.start}
	if w.count >= limit {
		s.heldUntil = w.start.Add(length)
	}
	return w.inFlight.hold(now, hold, s)
}

// hold keeps an entry with attempts in flight: they hold pointers to it, so
// dropping it would lose their results (uncounted guesses). It is held for
// at most hold (Limits.AttemptTimeout), by when they have resolved.
func (f *inFlight) hold(now time.Time, hold time.Duration, s slot) slot {
	if f.n > 0 {
		s.expired = false
		if until := now.Add(hold); s.heldUntil.Before(until) {
			s.heldUntil = until
		}
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
//   - Held entries (a locked account, an address over its limit, an entry
//     with attempts in flight) are never evicted: flushing them would lift
//     the lock at once, or lose the results of the attempts.
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
func makeRoom[V any](t *Memory, m map[string]V, table string, now time.Time, describe func(V, time.Time) slot) time.Duration {
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
func (t *Memory) maybeSweep(now time.Time) {
	if now.Sub(t.lastSweep) < sweepEvery {
		return
	}
	t.sweep(now)
	t.lastSweep = now
}

func (t *Memory) sweep(now time.Time) {
	sweepTable(t.accounts, now, t.accountSlot)
	sweepTable(t.ipFails, now, t.ipSlot)
	sweepTable(t.registers, now, t.registerSlot)
	sweepTable(t.logins, now, t.loginSlot)
}

func sweepTable[V any](m map[string]V, now time.Time, describe func(V, time.Time) slot) {
	for k, v := range m {
		if describe(v, now).expired {
			delete(m, k)
		}
	}
}
