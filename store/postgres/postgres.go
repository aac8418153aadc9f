// Package postgres is the store on PostgreSQL, for several instances of
// the app on one database. It keeps the same tables and the same contract
// as store/sqlite (store/storetest holds both to it); where SQLite
// serialises writers with one database-wide lock, this store locks rows:
// the user row while its sessions are created or revoked, the session row
// while a refresh token of it rotates, the signing_keys table while a
// plan is applied.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
)

// Store is the store on a PostgreSQL database, through a pgx pool. It is
// safe for concurrent use, also by several processes on one database.
type Store struct {
	// Now is the store's clock. Optional. Default value time.Now. Tests
	// replace it to move time without sleeping.
	Now func() time.Time

	// The store.Store methods both dialects say alike (their contracts
	// are written there); DeleteExpired and MigrationsPending below wrap
	// theirs.
	sqltables.Queries
	pool *pgxpool.Pool
}

// newStore is the Store on pool.
func newStore(pool *pgxpool.Pool) *Store {
	s := &Store{Now: time.Now, pool: pool}
	s.Queries = sqltables.Queries{
		DB:            pgDB{pool},
		NoRows:        pgx.ErrNoRows,
		Now:           s.now,
		Unavailable:   unavailable,
		UsernameTaken: func(err error) bool { return isUniqueViolation(err, "users_username_key_key") },
		InTx:          s.InTx,
		NoLimit:       nil, // LIMIT NULL: LIMIT ALL
		DeleteLocking: "FOR UPDATE SKIP LOCKED",
	}
	return s
}

// pgDB is sqltables.DB on the pool or a transaction, its ? placeholders
// as $n.
type pgDB struct{ q querier }

func (d pgDB) QueryRow(ctx context.Context, query string, args ...any) sqltables.Scanner {
	return d.q.QueryRow(ctx, sqltables.Dollar(query), args...)
}

func (d pgDB) Query(ctx context.Context, query string, args ...any) (sqltables.Rows, error) {
	return d.q.Query(ctx, sqltables.Dollar(query), args...)
}

func (d pgDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.q.Exec(ctx, sqltables.Dollar(query), args...)
	return tag.RowsAffected(), err
}

var _ store.Store = (*Store)(nil)

// querier is what the helpers need of a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// lockUser locks the user's row until the transaction ends, so that
// session creations and revocations of one account queue up (the cap
// check cannot race). FOR NO KEY UPDATE: it does not block the key-share
// locks the foreign keys of other tables take. ErrNotFound when there is
// no such user.
func lockUser(ctx context.Context, q querier, userID string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// DeleteExpired is sqltables.Queries.DeleteExpired (a session in the
// middle of a rotation is skipped, left for the next sweep rather than
// waited for), and then the throttle's expired counters.
func (s *Store) DeleteExpired(ctx context.Context, batch int) (int, error) {
	n, err := s.Queries.DeleteExpired(ctx, batch)
	if err != nil {
		return 0, err
	}
	if err := deleteExpiredThrottle(ctx, s.pool, s.now(), sqltables.DeleteBatch(batch)); err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// trimEventsSQL is sqltables.Tx.TrimEvents (sqlite's trimEventsSQL
// says why the login event stays).
const trimEventsSQL = `DELETE FROM session_events WHERE id IN (
	SELECT id FROM session_events
	WHERE session_id = ? AND kind <> ?
	ORDER BY at DESC, id DESC
	OFFSET ?)`

// now reads the clock at the precision the database keeps, so a time that
// goes in comes back out equal.
func (s *Store) now() time.Time { return sqltables.Now(s.Now) }

// isUniqueViolation reports whether err is PostgreSQL refusing a
// duplicate under the named constraint or unique index.
func isUniqueViolation(err error, constraint string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505" && e.ConstraintName == constraint
}

// ChangeSigningKeys applies plan (sqltables.ApplySigningKeyPlan) in one
// transaction holding a lock on signing_keys that only one writer holds at
// a time (readers go on): rotations by several instances queue up, and
// each plans from the previous one's result. Nothing is changed on any
// error.
func (s *Store) ChangeSigningKeys(ctx context.Context, plan store.SigningKeyPlan) (err error) {
	defer func() { err = unavailable(err) }()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: change signing keys: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("store: change signing keys: %w", err)
	}
	conflict := func(err error) bool {
		return isUniqueViolation(err, "signing_keys_pkey") || isUniqueViolation(err, "signing_keys_one_current")
	}
	if err := sqltables.ApplySigningKeyPlan(ctx, pgDB{tx}, plan, conflict); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: change signing keys: commit: %w", err)
	}
	return nil
}
