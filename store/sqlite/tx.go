package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"tokenflow/store"
)

// InTx runs fn in a BEGIN IMMEDIATE transaction (the DSN's _txlock): it
// takes the database's write lock at BEGIN, so transactions on one token,
// in this process or another on the same file, run one after the other
// and each sees what the previous one committed. See store.Store.InTx.
//
// Within this process, transactions queue in Go and those that queued
// while one batch committed share the next commit, each in its own
// savepoint (group.go): one fsync for several, and each caller answered
// only once its work is on disk. fn must not call InTx on the same store:
// it would wait for the lock its own batch holds.
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) (err error) {
	defer func() { err = unavailable(err) }()
	return s.inTx(ctx, fn)
}

// tx is store.Tx on an SQLite transaction.
type tx struct {
	tx  txStmts // the batch's transaction, through the statement cache (stmts.go)
	now time.Time
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
		tok                store.RefreshToken
		tokCreated         int64
		usedAt, graceUntil sql.NullInt64
		user               store.User
		userCreated        int64
	)
	// A session's user always exists: deleting a user deletes its sessions.
	row := t.tx.QueryRowContext(ctx, `SELECT t.id, t.session_id, t.token_hash, t.created_at, t.used_at, t.grace_until,
		u.id, u.username, u.password_hash, u.created_at, `+sessionColumns+`
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
		WHERE t.token_hash = ?`, hash)
	sess, err := scanSession(row, &tok.ID, &tok.SessionID, &tok.Hash, &tokCreated, &usedAt, &graceUntil,
		&user.ID, &user.Username, &user.PasswordHash, &userCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RefreshToken{}, store.Session{}, store.User{}, store.ErrRefreshUnknown
	}
	if err != nil {
		return store.RefreshToken{}, store.Session{}, store.User{}, fmt.Errorf("store: token for update: %w", err)
	}
	tok.CreatedAt = fromMillis(tokCreated)
	tok.UsedAt = fromNullMillis(usedAt)
	tok.GraceUntil = fromNullMillis(graceUntil)
	user.CreatedAt = fromMillis(userCreated)
	return tok, sess, user, nil
}

func (t *tx) InsertRefreshToken(ctx context.Context, sessionID, hash string, graceUntil time.Time) (int64, error) {
	id, err := insertToken(ctx, t.tx, sessionID, hash, t.now, toNullMillis(graceUntil))
	if err != nil {
		return 0, fmt.Errorf("store: insert refresh token: %w", err)
	}
	return id, nil
}

func (t *tx) MarkRefreshTokenUsed(ctx context.Context, id, replacedBy int64, usedAt, graceUntil time.Time) error {
	if _, err := t.tx.ExecContext(ctx,
		`UPDATE refresh_tokens SET used_at = ?, replaced_by = ?, grace_until = ? WHERE id = ?`,
		toMillis(usedAt), replacedBy, toNullMillis(graceUntil), id); err != nil {
		return fmt.Errorf("store: mark refresh token used: %w", err)
	}
	return nil
}

func (t *tx) CapLiveTokenGrace(ctx context.Context, sessionID string, deadline time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE refresh_tokens
		SET grace_until = min(coalesce(grace_until, ?1), ?1)
		WHERE session_id = ?2 AND used_at IS NULL`,
		toMillis(deadline), sessionID); err != nil {
		return fmt.Errorf("store: cap live token grace: %w", err)
	}
	return nil
}

func (t *tx) RetireLiveTokens(ctx context.Context, sessionID string, keepID int64, usedAt time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ?
		WHERE session_id = ? AND used_at IS NULL AND id <> ?`,
		toMillis(usedAt), sessionID, keepID); err != nil {
		return fmt.Errorf("store: retire live tokens: %w", err)
	}
	return nil
}

func (t *tx) SetSessionUse(ctx context.Context, sess store.Session) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE sessions
		SET last_used_at = ?, idle_expires_at = ?, ip = ?, user_agent = ?
		WHERE id = ?`,
		toMillis(sess.LastUsedAt), toMillis(sess.IdleExpiresAt), sess.IP, sess.UserAgent, sess.ID); err != nil {
		return fmt.Errorf("store: set session use: %w", err)
	}
	return nil
}

func (t *tx) RevokeSessionAndTokens(ctx context.Context, sessionID, reason string, revokedAt time.Time) error {
	if _, err := t.tx.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ?`,
		toMillis(revokedAt), reason, sessionID); err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx,
		`UPDATE refresh_tokens SET used_at = ? WHERE session_id = ? AND used_at IS NULL`,
		toMillis(revokedAt), sessionID); err != nil {
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
	args = append(args, toMillis(since), max)
	rows, err := t.tx.QueryContext(ctx, `SELECT at FROM session_events
		WHERE session_id = ? AND kind IN (?`+strings.Repeat(", ?", len(kinds)-1)+`) AND at > ?
		ORDER BY at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: event times: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, fmt.Errorf("store: event times: %w", err)
		}
		out = append(out, fromMillis(at))
	}
	if err := rows.Err(); err != nil {
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
	absolute := now.Add(ns.MaxAge)
	sess := store.Session{
		ID:                newID(),
		UserID:            ns.UserID,
		CreatedAt:         now,
		LastUsedAt:        now,
		IdleExpiresAt:     earliest(now.Add(ns.IdleTTL), absolute),
		AbsoluteExpiresAt: absolute,
		UserAgent:         ns.Client.UserAgent,
		IP:                ns.Client.IP,
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO sessions
		(id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, user_agent, ip)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, toMillis(now), toMillis(now), toMillis(sess.IdleExpiresAt),
		toMillis(sess.AbsoluteExpiresAt), sess.UserAgent, sess.IP); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	if _, err := insertToken(ctx, t.tx, sess.ID, ns.RefreshHash, now, sql.NullInt64{}); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	if err := insertEvent(ctx, t.tx, sess, store.EventLogin, now, ns.Client, ""); err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	return sess, nil
}

// LiveSessions reads the user's sessions through sessions_user_last_used.
func (t *tx) LiveSessions(ctx context.Context, userID string) ([]store.Session, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = ?1 AND s.revoked_at IS NULL
		  AND s.idle_expires_at > ?2 AND s.absolute_expires_at > ?2
		ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC`,
		userID, toMillis(t.now))
	if err != nil {
		return nil, fmt.Errorf("store: live sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: live sessions: %w", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
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

func toNullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toMillis(t), Valid: true}
}

func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}
