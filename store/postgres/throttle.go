package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"tokenflow/store/internal/sqltables"
	"tokenflow/throttle"
)

// Throttle is throttle.Store on this database: the counters every instance
// shares, so N instances behind a load balancer give an attacker the
// budget of one, not N.
//
// Each look and each outcome is one transaction that first takes
// transaction-level advisory locks on the keys it touches (the account,
// then the address: always in that order, so two never wait on each
// other), then reads, decides and writes in Go with the same policy as
// throttle.Memory. The locks end with the transaction, so a killed
// instance never leaves a key locked.
//
// Attempts in flight are rows with an expiry (began + AttemptTimeout).
// They count against the failure limits like Memory's reservations, across
// every instance; so at most the failures left are checked at once, however
// many instances a burst is spread over. An attempt whose instance dies
// before it resolves holds its room until its row expires, and is then
// neither a failure nor a login: its result never reached the client, so
// the guess taught the attacker nothing.
type Throttle struct {
	pool   pgxPool
	limits throttle.Limits
	log    *slog.Logger
}

// pgxPool is what Throttle needs of the pool.
type pgxPool interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

var _ throttle.Store = (*Throttle)(nil)

// Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)),
// so an account and an address never share a lock.
const (
	lockAccount      = 7301
	lockAddress      = 7302
	lockRegistration = 7303
)

// Window kinds in throttle_windows.
const (
	windowFailures      = "failures"
	windowLogins        = "logins"
	windowRegistrations = "registrations"
)

// busyPoll is how long a look that found no room waits before looking
// again: attempts in flight may resolve on another instance, which cannot
// wake this one.
const busyPoll = 50 * time.Millisecond

// resolveTimeout bounds writing an outcome. It does not use the request's
// context: a client that leaves once it has its answer must not take its
// failure back with it.
const resolveTimeout = 5 * time.Second

// NewThrottle is the shared throttle store on s's database. l must be
// valid (throttle.Limits.Validate); log may be nil (no warnings).
func NewThrottle(s *Store, l throttle.Limits, log *slog.Logger) *Throttle {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Throttle{pool: s.pool, limits: l, log: log}
}

// inThrottleTx runs fn in a transaction; its errors say "throttle".
func (t *Throttle) inThrottleTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := t.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("throttle store: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return fmt.Errorf("throttle store: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("throttle store: commit: %w", err)
	}
	return nil
}

func lockKey(ctx context.Context, tx pgx.Tx, class int, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, class, key)
	return err
}

// lockLogin takes the locks of a login's keys, account first.
func lockLogin(ctx context.Context, tx pgx.Tx, account, address string) error {
	if err := lockKey(ctx, tx, lockAccount, account); err != nil {
		return err
	}
	return lockKey(ctx, tx, lockAddress, address)
}

// accountRow is a throttle_accounts row; the zero value is no row.
type accountRow struct {
	failures    int
	last        time.Time
	lockedUntil time.Time
}

func readAccount(ctx context.Context, tx pgx.Tx, account string) (accountRow, error) {
	var a accountRow
	var last, locked int64
	err := tx.QueryRow(ctx, `SELECT failures, last_failure, locked_until FROM throttle_accounts WHERE key = $1`, account).
		Scan(&a.failures, &last, &locked)
	if errors.Is(err, pgx.ErrNoRows) {
		return accountRow{}, nil
	}
	if err != nil {
		return accountRow{}, err
	}
	a.last, a.lockedUntil = sqltables.FromMillis(last), sqltables.FromMillis(locked)
	return a, nil
}

func writeAccount(ctx context.Context, tx pgx.Tx, account string, a accountRow) error {
	_, err := tx.Exec(ctx, `INSERT INTO throttle_accounts (key, failures, last_failure, locked_until) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key) DO UPDATE SET failures = EXCLUDED.failures, last_failure = EXCLUDED.last_failure, locked_until = EXCLUDED.locked_until`,
		account, a.failures, sqltables.ToMillis(a.last), sqltables.ToMillis(a.lockedUntil))
	return err
}

// windowRow is a throttle_windows row, restarted when its window is over.
type windowRow struct {
	start time.Time
	count int
}

func readWindow(ctx context.Context, tx pgx.Tx, kind, key string, now time.Time, length time.Duration) (windowRow, error) {
	var start int64
	var w windowRow
	err := tx.QueryRow(ctx, `SELECT started_at, count FROM throttle_windows WHERE kind = $1 AND key = $2`, kind, key).Scan(&start, &w.count)
	if errors.Is(err, pgx.ErrNoRows) {
		return windowRow{start: now}, nil
	}
	if err != nil {
		return windowRow{}, err
	}
	w.start = sqltables.FromMillis(start)
	if now.Sub(w.start) >= length {
		w = windowRow{start: now}
	}
	return w, nil
}

func writeWindow(ctx context.Context, tx pgx.Tx, kind, key string, w windowRow) error {
	_, err := tx.Exec(ctx, `INSERT INTO throttle_windows (kind, key, started_at, count) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, key) DO UPDATE SET started_at = EXCLUDED.started_at, count = EXCLUDED.count`,
		kind, key, sqltables.ToMillis(w.start), w.count)
	return err
}

// BeginLogin is one look at the limits (see throttle.Store and
// throttle.Memory.TryLogin, whose policy it follows). Errors: the
// database's, which the throttle turns into a refusal (fail closed).
func (t *Throttle) BeginLogin(ctx context.Context, account, address string, now time.Time) (throttle.Attempt, time.Duration, <-chan struct{}, error) {
	var (
		attempt *sqlAttempt
		wait    time.Duration
		busy    bool
	)
	err := t.inThrottleTx(ctx, func(tx pgx.Tx) error {
		attempt, wait, busy = nil, 0, false
		if err := lockLogin(ctx, tx, account, address); err != nil {
			return err
		}
		acc, err := readAccount(ctx, tx, account)
		if err != nil {
			return err
		}
		if now.Sub(acc.last) >= throttle.AccountMemory && !now.Before(acc.lockedUntil) {
			acc = accountRow{} // quiet long enough: a clean slate
		}
		fails, err := readWindow(ctx, tx, windowFailures, address, now, throttle.AddressWindow)
		if err != nil {
			return err
		}
		logins, err := readWindow(ctx, tx, windowLogins, address, now, throttle.AddressWindow)
		if err != nil {
			return err
		}
		// The longest wait that applies.
		if fails.count >= t.limits.AddressFailures {
			wait = max(wait, fails.start.Add(throttle.AddressWindow).Sub(now))
		}
		if logins.count >= t.limits.Logins {
			wait = max(wait, logins.start.Add(throttle.AddressWindow).Sub(now))
		}
		if now.Before(acc.lockedUntil) {
			wait = max(wait, acc.lockedUntil.Sub(now))
		}
		if wait > 0 {
			return nil
		}
		// Attempts in flight on every instance; expired ones (their
		// instance died) are gone.
		if _, err := tx.Exec(ctx, `DELETE FROM throttle_attempts WHERE (account = $1 OR address = $2) AND expires_at <= $3`,
			account, address, sqltables.ToMillis(now)); err != nil {
			return err
		}
		var accInFlight, addrInFlight int
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE account = $1), count(*) FILTER (WHERE address = $2)
			FROM throttle_attempts WHERE account = $1 OR address = $2`, account, address).Scan(&accInFlight, &addrInFlight); err != nil {
			return err
		}
		if accInFlight >= max(t.limits.LoginFailures-acc.failures, 1) || addrInFlight >= t.limits.AddressFailures-fails.count {
			busy = true
			return nil
		}
		a := &sqlAttempt{t: t, id: sqltables.NewID(), account: account, address: address, began: now}
		if _, err := tx.Exec(ctx, `INSERT INTO throttle_attempts (id, account, address, expires_at) VALUES ($1, $2, $3, $4)`,
			a.id, account, address, sqltables.ToMillis(now.Add(t.limits.AttemptTimeout))); err != nil {
			return err
		}
		logins.count++ // a login, whatever its result; Aborted takes it back
		if err := writeWindow(ctx, tx, windowLogins, address, logins); err != nil {
			return err
		}
		attempt = a
		return nil
	})
	if err != nil {
		t.log.Error("throttle: counters unavailable, the login is refused", "err", err)
		return nil, 0, nil, err
	}
	if busy {
		ch := make(chan struct{})
		time.AfterFunc(busyPoll, func() { close(ch) })
		return nil, 0, ch, nil
	}
	if attempt == nil {
		return nil, wait, nil, nil
	}
	return attempt, 0, nil, nil
}

// sqlAttempt is Throttle's Attempt: its row in throttle_attempts.
type sqlAttempt struct {
	t                *Throttle
	id               string
	account, address string
	began            time.Time
	done             bool
}

// resolve ends the attempt once: outcome runs in a transaction holding the
// keys' locks, which also deletes the attempt's row. When it cannot be
// written, the row expires on its own; the outcome is lost, which is logged.
func (a *sqlAttempt) resolve(what string, outcome func(context.Context, pgx.Tx) error) {
	if a.done {
		return
	}
	a.done = true
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	err := a.t.inThrottleTx(ctx, func(tx pgx.Tx) error {
		if err := lockLogin(ctx, tx, a.account, a.address); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM throttle_attempts WHERE id = $1`, a.id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// Expired (resolved after AttemptTimeout, which callers never
			// do): count the outcome anyway, it is still true.
			a.t.log.Warn("throttle: an attempt resolved after its expiry", "outcome", what)
		}
		return outcome(ctx, tx)
	})
	if err != nil {
		a.t.log.Error("throttle: could not record a login outcome", "outcome", what, "err", err)
	}
}

// Succeeded forgets the account's failures (see throttle.Attempt).
func (a *sqlAttempt) Succeeded() {
	a.resolve("succeeded", func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM throttle_accounts WHERE key = $1`, a.account)
		return err
	})
}

// Failed counts a failure for the account and the address, as of when the
// attempt began (see throttle.Memory's loginAttempt.Failed).
func (a *sqlAttempt) Failed() {
	a.resolve("failed", func(ctx context.Context, tx pgx.Tx) error {
		acc, err := readAccount(ctx, tx, a.account)
		if err != nil {
			return err
		}
		if a.began.Sub(acc.last) >= throttle.AccountMemory && !a.began.Before(acc.lockedUntil) {
			acc = accountRow{}
		}
		acc.failures++
		acc.last = a.began
		if acc.failures >= a.t.limits.LoginFailures {
			acc.lockedUntil = a.began.Add(throttle.AccountDelay(acc.failures - a.t.limits.LoginFailures))
		}
		if err := writeAccount(ctx, tx, a.account, acc); err != nil {
			return err
		}
		fails, err := readWindow(ctx, tx, windowFailures, a.address, a.began, throttle.AddressWindow)
		if err != nil {
			return err
		}
		fails.count++
		return writeWindow(ctx, tx, windowFailures, a.address, fails)
	})
}

// Aborted takes the attempt back entirely, the login too.
func (a *sqlAttempt) Aborted() {
	a.resolve("aborted", func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE throttle_windows SET count = count - 1 WHERE kind = $1 AND key = $2 AND count > 0`,
			windowLogins, a.address)
		return err
	})
}

// CountRegistration counts one registration of the address (see
// throttle.Store). Errors: the database's.
func (t *Throttle) CountRegistration(ctx context.Context, address string, now time.Time) (time.Duration, error) {
	var wait time.Duration
	err := t.inThrottleTx(ctx, func(tx pgx.Tx) error {
		wait = 0
		if err := lockKey(ctx, tx, lockRegistration, address); err != nil {
			return err
		}
		w, err := readWindow(ctx, tx, windowRegistrations, address, now, throttle.RegistrationWindow)
		if err != nil {
			return err
		}
		if w.count >= t.limits.Registrations {
			wait = w.start.Add(throttle.RegistrationWindow).Sub(now)
			return nil
		}
		w.count++
		return writeWindow(ctx, tx, windowRegistrations, address, w)
	})
	if err != nil {
		t.log.Error("throttle: counters unavailable, the registration is refused", "err", err)
	}
	return wait, err
}

// UncountRegistration takes back a registration; when it cannot be
// written the registration stays counted (logged).
func (t *Throttle) UncountRegistration(ctx context.Context, address string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resolveTimeout)
	defer cancel()
	err := t.inThrottleTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE throttle_windows SET count = count - 1 WHERE kind = $1 AND key = $2 AND count > 0`,
			windowRegistrations, address)
		return err
	})
	if err != nil {
		t.log.Error("throttle: could not take back a registration", "err", err)
	}
}

// deleteExpiredThrottle deletes at most batch rows of each throttle table
// that no longer count: accounts quiet for AccountMemory and not locked,
// windows older than the longest window, attempts past their expiry. It
// runs with DeleteExpired, so the cleanup job keeps these tables bounded
// too; SKIP LOCKED leaves a row another instance is deleting to it.
func deleteExpiredThrottle(ctx context.Context, q querier, now time.Time, batch int) error {
	ms := sqltables.ToMillis(now)
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM throttle_accounts WHERE key IN (SELECT key FROM throttle_accounts
			WHERE last_failure < $1 AND locked_until <= $2 LIMIT $3 FOR UPDATE SKIP LOCKED)`,
			[]any{sqltables.ToMillis(now.Add(-throttle.AccountMemory)), ms, batch}},
		{`DELETE FROM throttle_windows WHERE (kind, key) IN (SELECT kind, key FROM throttle_windows
			WHERE started_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			[]any{sqltables.ToMillis(now.Add(-max(throttle.AddressWindow, throttle.RegistrationWindow))), batch}},
		{`DELETE FROM throttle_attempts WHERE id IN (SELECT id FROM throttle_attempts
			WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			[]any{ms, batch}},
	} {
		if _, err := q.Exec(ctx, stmt.sql, stmt.args...); err != nil {
			return fmt.Errorf("store: delete expired throttle counters: %w", err)
		}
	}
	return nil
}
