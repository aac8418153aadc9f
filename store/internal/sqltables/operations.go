package sqltables

// What operators need besides the store's contract: readiness and a
// metrics gauge, the same on both backends.

import (
	"context"
	"fmt"
	"io/fs"
)

// MigrationsPending returns how many of the embedded migrations
// (migrations/*.sql in files) goose's table does not record as applied: 0
// once the backend's Open has run, unless the database was rolled back,
// restored from an older copy, or replaced. Readiness asks it.
func (q Queries) MigrationsPending(ctx context.Context, files fs.FS) (int, error) {
	names, err := fs.Glob(files, "migrations/*.sql")
	if err != nil {
		return 0, fmt.Errorf("store: list migrations: %w", err)
	}
	var applied int
	if err := q.DB.QueryRow(ctx,
		`SELECT count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&applied); err != nil {
		return 0, q.Unavailable(fmt.Errorf("store: count applied migrations: %w", err))
	}
	return max(len(names)-applied, 0), nil
}

// CountActiveSessions returns how many sessions are live now: not revoked
// and not expired. A range scan of the idle-expiry index over a table the
// cleanup job keeps short, cheap enough for each metrics scrape.
func (q Queries) CountActiveSessions(ctx context.Context) (int, error) {
	now := ToMillis(q.Now())
	var n int
	if err := q.DB.QueryRow(ctx, `SELECT count(*) FROM sessions
		WHERE idle_expires_at > ? AND absolute_expires_at > ? AND revoked_at IS NULL`, now, now).Scan(&n); err != nil {
		return 0, q.Unavailable(fmt.Errorf("store: count active sessions: %w", err))
	}
	return n, nil
}
