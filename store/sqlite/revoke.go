package sqlite

import (
	"context"
	"database/sql"

	"tokenflow/store"
)

// The primitives auth's revocation (auth/revoke.go) runs on. They need no
// locking clause: InTx already holds the database's write lock, which
// covers every user and session.

func (t *tx) SessionForUpdate(ctx context.Context, sessionID string) (store.Session, error) {
	return t.SessionLocked(ctx, sessionID, "", sql.ErrNoRows)
}

// LiveSessionsForUpdate is LiveSessions: the write lock is the user's lock.
func (t *tx) LiveSessionsForUpdate(ctx context.Context, userID string) ([]store.Session, error) {
	return t.LiveSessions(ctx, userID)
}
