package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// versionTable is goose's bookkeeping table.
const versionTable = "goose_db_version"

// migrate applies the embedded migrations not yet applied, through goose,
// each in its own transaction with its bookkeeping row. path's lock file
// is held meanwhile: goose reads which versions are applied before it
// applies any, so two processes opening a fresh file at once would
// otherwise both apply 0001.
func (s *Store) migrate(ctx context.Context, path string) error {
	unlock, err := lockFile(path + "-migrate.lock")
	if err != nil {
		return err
	}
	defer unlock()
	if err := bridgeOldRunner(ctx, s.db); err != nil {
		return err
	}
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, files, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	return nil
}

// lockFile takes an exclusive flock on name (created 0600), waiting for
// any other holder; the kernel drops it if the process dies. A file of its
// own, not the database: closing any descriptor of the database file would
// drop the POSIX locks SQLite holds on it in this process.
func lockFile(name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	return func() { f.Close() }, nil // closing releases the flock
}

// bridgeOldRunner moves the bookkeeping of the runner before goose
// (schema_migrations, a row per applied file name like "0002_grace_until.sql")
// into goose's version table, once: it records those versions as applied
// and drops schema_migrations, in one transaction.
func bridgeOldRunner(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if n == 0 {
		return nil
	}
	gs, err := database.NewStore(database.DialectSQLite3, versionTable)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return fmt.Errorf("store: migrations: read schema_migrations: %w", err)
	}
	var applied []int64
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("store: migrations: read schema_migrations: %w", err)
		}
		v, err := goose.NumericComponent(name)
		if err != nil {
			rows.Close()
			return fmt.Errorf("store: migrations: schema_migrations row %q: %w", name, err)
		}
		applied = append(applied, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: migrations: read schema_migrations: %w", err)
	}
	var gooseTables int
	if err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, versionTable).Scan(&gooseTables); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if gooseTables == 0 {
		// goose records version 0 when it creates its table; so does the bridge.
		if err := gs.CreateVersionTable(ctx, tx); err != nil {
			return fmt.Errorf("store: migrations: %w", err)
		}
		applied = append([]int64{0}, applied...)
	}
	for _, v := range applied {
		if err := gs.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
			return fmt.Errorf("store: migrations: record version %d: %w", v, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE schema_migrations`); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrations: commit: %w", err)
	}
	return nil
}
