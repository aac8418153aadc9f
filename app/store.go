package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"tokenflow/config"
	"tokenflow/metrics"
	"tokenflow/store"
	"tokenflow/store/postgres"
	"tokenflow/store/sqlite"
)

// appStore is what the app needs of a store: the contract, and what
// readiness and the sessions gauge ask.
type appStore interface {
	store.Store
	readinessStore
	metrics.SessionCounter
}

var (
	_ appStore = (*sqlite.Store)(nil)
	_ appStore = (*postgres.Store)(nil)
)

// openStore opens the store DATABASE_URL selects: PostgreSQL for a
// postgres:// or postgresql:// URL, otherwise the SQLite file. Either
// applies its pending migrations before it returns. A PostgreSQL error
// names DATABASE_URL and never its password.
func openStore(ctx context.Context, cfg config.Config, now func() time.Time) (appStore, error) {
	if postgres.IsURL(cfg.DatabaseURL) {
		st, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		st.Now = now
		return st, nil
	}
	st, err := sqlite.Open(cfg.SQLitePath())
	if err != nil {
		return nil, fmt.Errorf("opening the database %s: %w", cfg.SQLitePath(), err)
	}
	st.Now = now
	return st, nil
}

// checkDatabaseURL checks DATABASE_URL before anything is created: a
// PostgreSQL URL pgx can parse, or a SQLite path the store accepts.
func checkDatabaseURL(cfg config.Config) error {
	if cfg.DatabaseURL == "" {
		return nil
	}
	if postgres.IsURL(cfg.DatabaseURL) {
		return postgres.CheckURL(cfg.DatabaseURL)
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") && !strings.HasPrefix(cfg.DatabaseURL, "file:") {
		// Not repeated: an unknown scheme may still carry a password.
		return errors.New("use postgres://USER:PASSWORD@HOST:PORT/DB (or postgresql://), sqlite:PATH, or leave it empty for the SQLite file in the data folder")
	}
	if err := sqlite.CheckPath(cfg.SQLitePath()); err != nil {
		return fmt.Errorf("%q: %w; use sqlite:PATH, for example sqlite:data/tokenflow.db", cfg.DatabaseURL, err)
	}
	return nil
}
