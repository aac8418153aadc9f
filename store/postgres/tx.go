package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"tokenflow/store"
	"tokenflow/store/internal/sqlrow"
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
	if err := fn(&tx{tx: pgTx, clock: s.now}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// tx is store.Tx on a pgx transaction.
type tx struct {
	tx    pgx.Tx
	clock func() time.Time
	now   time.Time // read once: at TokenForUpdate's lock, or at the first Now before it
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
	sess, err := sqlrow.ScanSession(t.tx.QueryRow(ctx, `SELECT `+sqlrow.SessionColumns+` FROM sessions s WHERE s.id = $1 FOR UPDATE`, sessionID))
	if err != nil {
		return fail(err)
	}
	var (
		tok  store.RefreshToken
		user store.User
	)
	// Read after the lock: this statement sees what the previous holder
	// committed.
	if err := t.tx.QueryRow(ctx, `SELECT `+sqlrow.TokenColumns+`, `+sqlrow.UserColumns+`
		FROM refresh_tokens t JOIN users u ON u.id = $2
		WHERE t.token_hash = $1 AND t.session_id = $3
		FOR UPDATE OF t`, hash, sess.UserID, sess.ID).
		Scan(slices.Concat(sqlrow.TokenDest(&tok), sqlrow.UserDest(&user))...); err != nil {
		return fail(err)
	}
	t.Now()
	return tok, sess, user, nil
}

func (t *tx) InsertRefreshToken(ctx context.Context, sessionID, hash string, graceUntil time.Time) (int64, error) {
	id, err := insertToken(ctx, t.tx, sessionID, hash, t.Now(), sqlrow.ToNullMillis(graceUntil))
	if err != nil {
		return 0, fmt.Errorf("store: insert refresh token: %w", err)
	}
	return id, nil
}

func (t *tx) MarkRefreshTokenUsed(ctx context.Context, id, replacedBy int64, usedAt, graceUntil time.Time) error {
	if _, err := t.tx.Exec(ctx,
		`UPDATE refresh_tokens SET used_at = $1, replaced_by = $2, grace_until = $3 WHERE id = $4`,
		sqlrow.ToMillis(usedAt), replacedBy, sqlrow.ToNullMillis(graceUntil), id); err != nil {
		return fmt.Errorf("store: mark refresh token used: %w", err)
	}
	return nil
}

func (t *tx) CapLiveTokenGrace(ctx context.Context, sessionID string, deadline time.Time) error {
	if _, err := t.tx.Exec(ctx, `UPDATE refresh_tokens
		SET grace_until = LEAST(COALESCE(grace_until, $1), $1)
		WHERE session_id = $2 AND used_at IS NULL`,
		sqlrow.ToMillis(deadline), sessionID); err != nil {
		return fmt.Errorf("store: cap live token grace: %w", err)
	}
	return nil
}

func (t *tx) RetireLiveTokens(ctx context.Context, sessionID string, keepID int64, usedAt time.Time) error {
	if _, err := t.tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1
		WHERE session_id = $2 AND used_at IS NULL AND id <> $3`,
		sqlrow.ToMillis(usedAt), sessionID, keepID); err != nil {
		return fmt.Errorf("store: retire live tokens: %w", err)
	}
	return nil
}

func (t *tx) SetSessionUse(ctx context.Context, sess store.Session) error {
	if _, err := t.tx.Exec(ctx, `UPDATE sessions
		SET last_used_at = $1, idle_expires_at = $2, ip = $3, user_agent = $4
		WHERE id = $5`,
		sqlrow.ToMillis(sess.LastUsedAt), sqlrow.ToMillis(sess.IdleExpiresAt), sess.IP, sess.UserAgent, sess.ID); err != nil {
		return fmt.Errorf("store: set session use: %w", err)
	}
	return nil
}

func (t *tx) RevokeSessionAndTokens(ctx context.Context, sessionID, reason string, revokedAt time.Time) error {
	if err := t.RevokeSession(ctx, sessionID, reason, revokedAt); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx,
		`UPDATE refresh_tokens SET used_at = $1 WHERE session_id = $2 AND used_at IS NULL`,
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
	rows, err := t.tx.Query(ctx, `SELECT at FROM session_events
		WHERE session_id = $1 AND kind = ANY($2) AND at > $3
		ORDER BY at DESC, id DESC LIMIT $4`, sessionID, kinds, sqlrow.ToMillis(since), max)
	out, err := sqlrow.All(rows, err, sqlrow.ScanMillis)
	if err != nil {
		return nil, fmt.Errorf("store: event times: %w", err)
	}
	return out, nil
}

// CreateSession locks the user row first, so logins of one user (and
// the cap policy run after them in the same transaction) go one at a time.
func (t *tx) CreateSession(ctx context.Context, ns store.NewSession) (store.Session, error) {
	if ns.RefreshHash == "" || ns.IdleTTL <= 0 || ns.MaxAge <= 0 {
		return store.Session{}, errors.New("store: create session: refresh hash, idle TTL and max age are required")
	}
	if err := lockUser(ctx, t.tx, ns.UserID); errors.Is(err, store.ErrNotFound) {
		return store.Session{}, err
	} else if err != nil {
		return store.Session{}, fmt.Errorf("store: create session: %w", err)
	}
	// Read the clock once the user's lock is held.
	now := t.Now()
	sess := sqlrow.NewSession(ns, now)
	if _, err := t.tx.Exec(ctx, `INSERT INTO sessions
		(id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, user_agent, ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
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

func (t *tx) LiveSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return t.liveSessions(ctx, userID, "")
}

// liveSessions is LiveSessions with a locking clause (or "").
func (t *tx) liveSessions(ctx context.Context, userID, locking string) ([]store.Session, error) {
	out, err := sessions(ctx, t.tx, `SELECT `+sqlrow.SessionColumns+` FROM sessions s
		WHERE s.user_id = $1 AND s.revoked_at IS NULL
		  AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2
		ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC `+locking,
		userID, sqlrow.ToMillis(t.Now()))
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

// The primitives auth's revocation (auth/revoke.go) runs on, with the
// locks a rotation and a login take: the session row, the user row.

// SessionForUpdate takes the session's lock as TokenForUpdate does, and
// reads the clock after it.
func (t *tx) SessionForUpdate(ctx context.Context, sessionID string) (store.Session, error) {
	sess, err := sqlrow.ScanSession(t.tx.QueryRow(ctx, `SELECT `+sqlrow.SessionColumns+` FROM sessions s WHERE s.id = $1 FOR UPDATE`, sessionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("store: session for update: %w", err)
	}
	t.Now()
	return sess, nil
}

func (t *tx) RevokeSession(ctx context.Context, sessionID, reason string, revokedAt time.Time) error {
	if _, err := t.tx.Exec(ctx,
		`UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3`,
		sqlrow.ToMillis(revokedAt), reason, sessionID); err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	return nil
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
	return t.liveSessions(ctx, userID, "FOR UPDATE")
}
