package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
)

// InTx runs fn in a BEGIN IMMEDIATE transaction (the DSN's _txlock): it
// takes the database's write lock at BEGIN, so transactions on one token,
// in this process or another on the same file, run one after the other
// and each sees what the previous one committed. See store.Store.InTx.
//
// Within this process, transactions queue in Go and those that queued
// while one batch committed share the next commit, each in its own
// savepoint (group.go): one fsync for several, and each caller answered
// only once its batch has ended, success only once its work is on disk.
// fn must not call InTx (or a Store method that writes) on the same store:
// that would wait for the batch that waits for fn, so it fails at once
// with ErrNestedTx.
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) (err error) {
	defer func() { err = unavailable(err) }()
	return s.inTx(ctx, fn)
}

// tx is store.Tx on an SQLite transaction: the primitives both dialects
// say alike (sqltables.Tx), and below those this backend says its own way.
type tx struct {
	sqltables.Tx
	tx  txStmts // the batch's transaction, through the statement cache (stmts.go)
	now time.Time
}

// newTx is the member's view of the batch's transaction, its clock read
// now (once the write lock is held).
func newTx(sqlTx *sql.Tx, s *Store) *tx {
	t := &tx{tx: txStmts{tx: sqlTx, s: s}, now: s.now()}
	t.Tx = sqltables.Tx{DB: sqltables.SQLDB{DB: t.tx}, Now: t.Now, TrimEvents: trimEventsSQL}
	return t
}

// live is the context a statement of the shared transaction runs on. An
// ended ctx is passed on as it is, so database/sql fails the statement
// before it starts; a live one loses its cancellation, because a statement
// interrupted halfway rolls back the whole transaction (SQLite's rule),
// other callers' work in the same batch included (group.go).
func live(ctx context.Context) context.Context {
	if ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

var _ store.Tx = (*tx)(nil)

func (t *tx) Now() time.Time { return t.now }

// TokenForUpdate needs no locking clause: the transaction already holds
// the database's write lock, which covers every session.
func (t *tx) TokenForUpdate(ctx context.Context, hash string) (store.RefreshToken, store.Session, store.User, error) {
	var (
		tok  store.RefreshToken
		sess store.Session
		user store.User
	)
	// A session's user always exists: deleting a user deletes its sessions.
	err := t.tx.QueryRowContext(ctx, `SELECT `+sqltables.TokenColumns+`, `+sqltables.UserColumns+`, `+sqltables.SessionColumns+`
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
		WHERE t.token_hash = ?`, hash).
		Scan(slices.Concat(sqltables.TokenDest(&tok), sqltables.UserDest(&user), sqltables.SessionDest(&sess))...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RefreshToken{}, store.Session{}, store.User{}, store.ErrRefreshUnknown
	}
	if err != nil {
		return store.RefreshToken{}, store.Session{}, store.User{}, fmt.Errorf("store: token for update: %w", err)
	}
	return tok, sess, user, nil
}

// CreateSession needs no lock of its own: BEGIN IMMEDIATE already holds
// the database's write lock, so nobody else creates or ends a session of
// this user (or deletes the user) until the transaction ends.
func (t *tx) CreateSession(ctx context.Context, ns store.NewSession) (store.Session, error) {
	if err := sqltables.CheckNewSession(ns); err != nil {
		return store.Session{}, err
	}
	var n int
	if err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id = ?`, ns.UserID).Scan(&n); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	if n == 0 {
		return store.Session{}, store.ErrNotFound
	}
	return t.StartSession(ctx, ns, t.now)
}
