package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
)

// InTx runs fn in one READ COMMITTED transaction. What serialises two
// rotations is TokenForUpdate's lock on the session row; see
// store.Store.InTx.
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) (err error) {
	defer func() { err = unavailable(err) }()
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	// Rolls back when fn fails or panics; after a commit it does nothing.
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	if err := fn(newTx(pgTx, s.now)); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// tx is store.Tx on a pgx transaction. The primitives both dialects say
// alike come from sqltables.Tx.
type tx struct {
	sqltables.Tx
	tx    pgx.Tx
	clock func() time.Time
	now   time.Time // read once: at TokenForUpdate's lock, or at the first Now before it
}

func newTx(pgTx pgx.Tx, clock func() time.Time) *tx {
	t := &tx{tx: pgTx, clock: clock}
	t.Tx = sqltables.Tx{DB: pgDB{pgTx}, Now: t.Now, TrimEvents: trimEventsSQL}
	return t
}

var _ store.Tx = (*tx)(nil)

// Now reads the clock once. Read after the session's lock is held (the
// rotation policy locks first), so the times that successive transactions
// on one session write never go backwards.
func (t *tx) Now() time.Time {
	if t.now.IsZero() {
		t.now = t.clock()
	}
	return t.now
}

// TokenForUpdate locks the session row first and the token row second.
// Always in that order: every transaction that writes a session's tokens
// holds its session's lock, so two rotations of one session can only
// meet at the session row (locking the token first would let a rotation
// retiring a sibling's token deadlock with that sibling's rotation).
func (t *tx) TokenForUpdate(ctx context.Context, hash string) (store.RefreshToken, store.Session, store.User, error) {
	fail := func(err error) (store.RefreshToken, store.Session, store.User, error) {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.RefreshToken{}, store.Session{}, store.User{}, store.ErrRefreshUnknown
		}
		return store.RefreshToken{}, store.Session{}, store.User{}, fmt.Errorf("store: token for update: %w", err)
	}
	var sessionID string
	if err := t.tx.QueryRow(ctx, `SELECT session_id FROM refresh_tokens WHERE token_hash = $1`, hash).Scan(&sessionID); err != nil {
		return fail(err)
	}
	// No rows: the session went (DeleteExpired) after the first read.
	sess, err := sqltables.ScanSession(t.tx.QueryRow(ctx, `SELECT `+sqltables.SessionColumns+` FROM sessions s WHERE s.id = $1 FOR UPDATE`, sessionID))
	if err != nil {
		return fail(err)
	}
	var (
		tok  store.RefreshToken
		user store.User
	)
	// Read after the lock: this statement sees what the previous holder
	// committed.
	if err := t.tx.QueryRow(ctx, `SELECT `+sqltables.TokenColumns+`, `+sqltables.UserColumns+`
		FROM refresh_tokens t JOIN users u ON u.id = $2
		WHERE t.token_hash = $1 AND t.session_id = $3
		FOR UPDATE OF t`, hash, sess.UserID, sess.ID).
		Scan(slices.Concat(sqltables.TokenDest(&tok), sqltables.UserDest(&user))...); err != nil {
		return fail(err)
	}
	t.Now()
	return tok, sess, user, nil
}

// CreateSession locks the user row first, so logins of one user (and
// the cap policy run after them in the same transaction) go one at a time.
func (t *tx) CreateSession(ctx context.Context, ns store.NewSession) (store.Session, error) {
	if err := sqltables.CheckNewSession(ns); err != nil {
		return store.Session{}, err
	}
	if err := lockUser(ctx, t.tx, ns.UserID); errors.Is(err, store.ErrNotFound) {
		return store.Session{}, err
	} else if err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	// Read the clock once the user's lock is held.
	return t.StartSession(ctx, ns, t.Now())
}

// The primitives auth's revocation (auth/revoke.go) runs on, with the
// locks a rotation and a login take: the session row, the user row.

// SessionForUpdate takes the session's lock as TokenForUpdate does, and
// reads the clock after it.
func (t *tx) SessionForUpdate(ctx context.Context, sessionID string) (store.Session, error) {
	sess, err := t.SessionLocked(ctx, sessionID, "FOR UPDATE", pgx.ErrNoRows)
	t.Now()
	return sess, err
}

// LiveSessionsForUpdate locks the user row first, so a login racing with
// "log out everywhere" either comes before it (and its session is
// revoked) or after it, then reads the clock and locks the live sessions.
func (t *tx) LiveSessionsForUpdate(ctx context.Context, userID string) ([]store.Session, error) {
	if err := lockUser(ctx, t.tx, userID); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: live sessions for update: %w", err)
	}
	return t.LiveSessionsLocked(ctx, userID, "FOR UPDATE")
}
