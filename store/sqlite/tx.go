package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"tokenflow/store"
	"tokenflow/store/internal/sqlrow"
)

// InTx runs fn in one BEGIN IMMEDIATE transaction (the DSN's _txlock): it
// takes the database's write lock at BEGIN, so transactions on one token,
// in this process or another on the same file, run one after the other
// and each sees what the previous one committed. See store.Store.InTx.
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) (err error) {
	defer func() { err = unavailable(err) }()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	// Rolls back when fn fails or panics; after a commit it does nothing.
	defer sqlTx.Rollback()
	// Read the clock once the write lock is held, so the times written by
	// successive transactions never go backwards.
	if err := fn(&tx{tx: sqlTx, now: s.now()}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// tx is store.Tx on an SQLite transaction.
type tx struct {
	tx  *sql.Tx
	now time.Time
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
	err := t.tx.QueryRowContext(ctx, `SELECT `+sqlrow.TokenColumns+`, `+sqlrow.UserColumns+`, `+sqlrow.SessionColumns+`
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
		WHERE t.token_hash = ?`, hash).
		Scan(slices.Concat(sqlrow.TokenDest(&tok), sqlrow.UserDest(&user), sqlrow.SessionDest(&sess))...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RefreshToken{}, store.Session{}, store.User{}, store.ErrRefreshUnknown
	}
	if err != nil {
		return store.RefreshToken{}, store.Session{}, store.User{}, fmt.Errorf("store: token for update: %w", err)
	}
	return tok, sess, user, nil
}

func (t *tx) InsertRefreshToken(ctx context.Context, sessionID, hash string, graceUntil time.Time) (int64, error) {
	id, err := insertToken(ctx, t.tx, sessionID, hash, t.now, sqlrow.ToNullMillis(graceUntil))
	if err != nil {
		return 0, fmt.Errorf("store: insert refresh token: %w", err)
	}
	return id, nil
}

func (t *tx) MarkRefreshTokenUsed(ctx context.Context, id, replacedBy int64, usedAt, graceUntil time.Time) error {
	if _, err := t.tx.ExecContext(ctx,
		`UPDATE refresh_tokens SET used_at = ?, replaced_by = ?, grace_until = ? WHERE id = ?`,
		sqlrow.ToMillis(usedAt), replacedBy, sqlrow.ToNullMillis(graceUntil), id); err != nil {
		return fmt.Errorf("store: mark refresh token used: %w", err)
	}
	return nil
}

func (t *tx) CapLiveTokenGrace(ctx context.Context, sessionID string, deadline time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE refresh_tokens
		SET grace_until = min(coalesce(grace_until, ?1), ?1)
		WHERE session_id = ?2 AND used_at IS NULL`,
		sqlrow.ToMillis(deadline), sessionID); err != nil {
		return fmt.Errorf("store: cap live token grace: %w", err)
	}
	return nil
}

func (t *tx) RetireLiveTokens(ctx context.Context, sessionID string, keepID int64, usedAt time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ?
		WHERE session_id = ? AND used_at IS NULL AND id <> ?`,
		sqlrow.ToMillis(usedAt), sessionID, keepID); err != nil {
		return fmt.Errorf("store: retire live tokens: %w", err)
	}
	return nil
}

func (t *tx) SetSessionUse(ctx context.Context, sess store.Session) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE sessions
		SET last_used_at = ?, idle_expires_at = ?, ip = ?, user_agent = ?
		WHERE id = ?`,
		sqlrow.ToMillis(sess.LastUsedAt), sqlrow.ToMillis(sess.IdleExpiresAt), sess.IP, sess.UserAgent, sess.ID); err != nil {
		return fmt.Errorf("store: set session use: %w", err)
	}
	return nil
}

func (t *tx) RevokeSessionAndTokens(ctx context.Context, sessionID, reason string, revokedAt time.Time) error {
	if err := t.RevokeSession(ctx, sessionID, reason, revokedAt); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx,
		`UPDATE refresh_tokens SET used_at = ? WHERE session_id = ? AND used_at IS NULL`,
		sqlrow.ToMillis(revokedAt), sessionID); err != nil {
		return fmt.Errorf("store: revoke session tokens: %w", err)
	}
	return nil
}

// EventTimesSince reads session_events_session_at newest first, so it
// touches at most max rows of this session.
func (t *tx) EventTimesSince(ctx context.Context, sessionID string, kinds []string, since time.Time, max int) ([]time.Time, error) {
	if len(kinds) == 0 || max <= 0 {
		return nil, nil
	}
	args := []any{sessionID}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, sqlrow.ToMillis(since), max)
	rows, err := t.tx.QueryContext(ctx, `SELECT at FROM session_events
		WHERE session_id = ? AND kind IN (?`+strings.Repeat(", ?", len(kinds)-1)+`) AND at > ?
		ORDER BY at DESC, id DESC LIMIT ?`, args...)
	out, err := sqlrow.All(rows, err, sqlrow.ScanMillis)
	if err != nil {
		return nil, fmt.Errorf("store: event times: %w", err)
	}
	return out, nil
}

// CreateSession needs no lock of its own: BEGIN IMMEDIATE already holds
// the database's write lock, so nobody else creates or ends a session of
// this user (or deletes the user) until the transaction ends.
func (t *tx) CreateSession(ctx context.Context, ns store.NewSession) (store.Session, error) {
	if ns.RefreshHash == "" || ns.IdleTTL <= 0 || ns.MaxAge <= 0 {
		return store.Session{}, errors.New("store: create session: refresh hash, idle TTL and max age are required")
	}
	var n int
	if err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id = ?`, ns.UserID).Scan(&n); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	if n == 0 {
		return store.Session{}, store.ErrNotFound
	}
	now := t.now
	sess := sqlrow.NewSession(ns, now)
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO sessions
		(id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, user_agent, ip)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, sqlrow.ToMillis(now), sqlrow.ToMillis(now), sqlrow.ToMillis(sess.IdleExpiresAt),
		sqlrow.ToMillis(sess.AbsoluteExpiresAt), sess.UserAgent, sess.IP); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	if _, err := insertToken(ctx, t.tx, sess.ID, ns.RefreshHash, now, nil); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	if err := insertEvent(ctx, t.tx, sess, store.EventLogin, now, ns.Client, ""); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	return sess, nil
}

// LiveSessions reads the user's sessions through sessions_user_last_used.
func (t *tx) LiveSessions(ctx context.Context, userID string) ([]store.Session, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+sqlrow.SessionColumns+` FROM sessions s
		WHERE s.user_id = ?1 AND s.revoked_at IS NULL
		  AND s.idle_expires_at > ?2 AND s.absolute_expires_at > ?2
		ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC`,
		userID, sqlrow.ToMillis(t.now))
	out, err := sqlrow.All(rows, err, sqlrow.ScanSession)
	if err != nil {
		return nil, fmt.Errorf("store: live sessions: %w", err)
	}
	return out, nil
}

func (t *tx) InsertEvent(ctx context.Context, e store.Event) error {
	sess := store.Session{ID: e.SessionID, UserID: e.UserID}
	if err := insertEvent(ctx, t.tx, sess, e.Kind, e.At, store.Client{IP: e.IP, UserAgent: e.UserAgent}, e.Detail); err != nil {
		return fmt.Errorf("store: insert event: %w", err)
	}
	return nil
}
