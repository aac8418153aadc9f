package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tokenflow/store"
)

// The primitives auth's revocation (auth/revoke.go) runs on, with the
// locks a rotation and a login take: the session row, the user row.

// SessionForUpdate takes the session's lock as TokenForUpdate does, and
// reads the clock after it.
func (t *tx) SessionForUpdate(ctx context.Context, sessionID string) (store.Session, error) {
	sess, err := scanSession(t.tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1 FOR UPDATE`, sessionID))
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
		toMillis(revokedAt), reason, sessionID); err != nil {
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
