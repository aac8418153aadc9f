package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"tokenflow/config"
	"tokenflow/store/postgres"
	"tokenflow/store/sqlite"
)

// Backup is `tokenflow backup FILE`: a consistent copy of the SQLite
// database named by the settings (DATA_DIR or DATABASE_URL, as the server
// reads them), taken while the server keeps serving. FILE must not exist;
// the copy is 0600. Restoring is copying it back while the server is
// stopped (README, Operations).
func Backup(ctx context.Context, getenv func(string) string, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] == "" {
		return errors.New("usage: tokenflow backup FILE (FILE must not exist yet)")
	}
	dest := args[0]
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if postgres.IsURL(cfg.DatabaseURL) {
		return errors.New("backup: DATABASE_URL selects PostgreSQL; back it up with pg_dump (this command copies the SQLite file)")
	}
	src := cfg.SQLitePath()
	if err := sqlite.Backup(ctx, src, dest); err != nil {
		if errors.Is(err, sqlite.ErrBackupExists) {
			return fmt.Errorf("backup: %s exists; refusing to overwrite it (choose a new name)", dest)
		}
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", src, dest)
	return nil
}
