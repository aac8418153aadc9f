package postgres

import "context"

// MigrationsPending is sqltables.Queries.MigrationsPending on the embedded
// migrations; CountActiveSessions comes with the embedded Queries.
func (s *Store) MigrationsPending(ctx context.Context) (int, error) {
	return s.Queries.MigrationsPending(ctx, migrationFiles)
}
