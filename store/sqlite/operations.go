package sqlite

// What operators need besides the store's contract: readiness, a metrics
// gauge, and online backups.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
)

// MigrationsPending is sqltables.Queries's, on this backend's migrations.
func (s *Store) MigrationsPending(ctx context.Context) (int, error) {
	return s.Queries.MigrationsPending(ctx, migrationFiles)
}

// ErrBackupExists is a backup whose destination already exists: a backup
// never overwrites a file (it may be the previous good backup).
var ErrBackupExists = errors.New("store: backup destination exists")

// Backup writes a consistent copy of the database at dbPath to dest while
// other connections (a running server) keep reading and writing it. It uses
// VACUUM INTO, which reads one snapshot inside a read transaction: under WAL
// the copy contains exactly the transactions committed before it began,
// and writers are not blocked. The database is opened read-only and no
// migration runs, so backing up never changes it.
//
// dest is created 0600 (it holds password hashes and refresh-token hashes)
// and must not exist: ErrBackupExists. A failed backup removes its partial
// file. dbPath must exist: a missing database is an error, not an empty copy.
func Backup(ctx context.Context, dbPath, dest string) (err error) {
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// O_EXCL: the refusal and the creation are one step, so two backups
	// racing for one name cannot both write it. VACUUM INTO accepts an
	// existing empty file and keeps its mode.
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrBackupExists, dest)
	}
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(dest)
		}
	}()
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: dbPath,
		RawQuery: "mode=ro&_pragma=busy_timeout(10000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("store: backup: open %s: %w", dbPath, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("store: backup %s into %s: %w", dbPath, dest, err)
	}
	// VACUUM INTO writes through SQLite's own file handle; make sure the
	// copy is on disk before reporting success.
	out, err := os.OpenFile(dest, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer out.Close()
	if err := out.Sync(); err != nil {
		return fmt.Errorf("store: backup: sync %s: %w", dest, err)
	}
	return nil
}
