package postgres

// What operators need besides the store's contract: readiness and a
// metrics gauge (the SQLite store has the same two).

import (
	"context"
	"fmt"
	"io/fs"

	"tokenflow/store/internal/sqltables"
)

// MigrationsPending returns how many embedded migrations the database has
// not recorded as applied (0 once Open has run, unless the database was
// restored from an older dump or replaced). Readiness asks it.
func (s *Store) MigrationsPending(ctx context.Context) (_ int, err error) {
	defer func() { err = unavailable(err) }()
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return 0, fmt.Errorf("store: list migrations: %w", err)
	}
	var applied int
	if err := s.pool.QueryRow(ctx,
		`SELECT count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&applied); err != nil {
		return 0, fmt.Errorf("store: count applied migrations: %w", err)
	}
	return max(len(names)-applied, 0), nil
}

// CountActiveSessions returns how many sessions are live now: not revoked
// and not expired.
func (s *Store) CountActiveSessions(ctx context.Context) (_ int, err error) {
	defer func() { err = unavailable(err) }()
	now := sqltables.ToMillis(s.now())
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sessions
		WHERE idle_expires_at > $1 AND absolute_expires_at > $1 AND revoked_at IS NULL`, now).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count active sessions: %w", err)
	}
	return n, nil
}
