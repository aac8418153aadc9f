package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
)

// The primitives auth's revocation (auth/revoke.go) runs on. They need no
// locking clause: InTx already holds the database's write lock, which
// covers every user and session.

func (t *tx) SessionForUpdate(ctx context.Context, sessionID string) (store.Session, error) {
	sess, err := sqltables.ScanSession(t.tx.QueryRowContext(ctx, `SELECT `+sqltables.SessionColumns+` FROM sessions s WHERE s.id = ?`, sessionID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("store: session for update: %w", err)
	}
	return sess, nil
}

func (t *tx) RevokeSession(ctx context.Context, sessionID, reason string, revokedAt time.Time) error {
	return t.writes().RevokeSession(ctx, sessionID, reason, revokedAt)
}

// LiveSessionsForUpdate is LiveSessions: the write lock is the user's lock.
func (t *tx) LiveSessionsForUpdate(ctx context.Context, userID string) ([]store.Session, error) {
	return t.LiveSessions(ctx, userID)
}
