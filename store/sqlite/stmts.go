package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Prepared statements for the transactions of InTx. database/sql runs a
// statement with arguments by preparing it, running it and finalizing it,
// and SQLite's prepare (parse and plan) is about a quarter of a refresh's
// time in the store. A statement prepared once on the database is prepared
// once per connection and reused (Tx.StmtContext); the driver keeps a
// single-statement prepare and resets it after each use, so no cached
// statement holds a read transaction open between uses.

// execer runs one statement: *sql.Tx, or a transaction's cached statements.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// stmtCache holds one prepared statement per query text. The queries are
// the constants of this package and of sqltables (texts put together from
// constants only), so it stays small.
// The zero value is ready to use.
type stmtCache struct {
	m sync.Map // query -> *sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	if v, ok := c.m.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, loaded := c.m.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// txStmts runs statements in one transaction through the cache, each on
// live(ctx) (tx.go).
type txStmts struct {
	tx *sql.Tx
	s  *Store
}

func (q txStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := q.s.stmts.get(ctx, q.s.db, query)
	if err != nil {
		return nil, err
	}
	return q.tx.StmtContext(ctx, st), nil
}

func (q txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = live(ctx)
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (q txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = live(ctx)
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext falls back to an unprepared query when the statement
// cannot be prepared, so the error surfaces at Scan as database/sql's own.
func (q txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = live(ctx)
	st, err := q.stmt(ctx, query)
	if err != nil {
		return q.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// poolStmts runs the store's reads outside InTx (sqltables.Queries) on the
// pool, through the same cache: the dashboard's timeline, the live-session
// check and the login's user lookup are each one statement a request, and
// its parse would be most of their CPU (docs/PERFORMANCE.md, section 5).
type poolStmts struct{ s *Store }

func (q poolStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.s.stmts.get(ctx, q.s.db, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext falls back to an unprepared query when the statement
// cannot be prepared, so the error surfaces at Scan as database/sql's own.
func (q poolStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := q.s.stmts.get(ctx, q.s.db, query)
	if err != nil {
		return q.s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// ExecContext is never reached through Store.queries, whose writes go to
// InTx's queue (queuedDB); it runs unprepared.
func (q poolStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.s.db.ExecContext(ctx, query, args...)
}
