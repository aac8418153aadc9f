package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// connectTimeout bounds each attempt to reach the server when the URL
// names none (connect_timeout): an unreachable server stops start-up
// instead of hanging it.
const connectTimeout = 10 * time.Second

// IsURL reports whether databaseURL selects this store.
func IsURL(databaseURL string) bool {
	return strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://")
}

// CheckURL says whether Open can parse databaseURL, without connecting;
// its error never contains the password.
func CheckURL(databaseURL string) error {
	if _, err := pgxpool.ParseConfig(databaseURL); err != nil {
		return oneLine(redact(fmt.Errorf("not a PostgreSQL URL: %w", err), databaseURL))
	}
	return nil
}

// Open connects to the database at databaseURL (postgres://… or
// postgresql://…), checks that it answers, and applies pending migrations.
// Its errors are one line and never contain the URL's password.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	s, err := open(ctx, databaseURL)
	if err != nil {
		return nil, oneLine(redact(err, databaseURL))
	}
	return s, nil
}

// oneLine joins the lines of err's text (pgx lists each address it tried
// on a line of its own), so start-up fails with one line.
func oneLine(err error) error {
	if !strings.ContainsAny(err.Error(), "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}

func open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: not a PostgreSQL URL: %w", err)
	}
	if !strings.Contains(databaseURL, "connect_timeout=") {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := newStore(pool)
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: cannot reach PostgreSQL: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies the embedded migrations not yet applied, through goose,
// holding goose's session-level advisory lock: of several instances
// starting at once, one migrates and the others wait, then find nothing
// to do.
func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	return nil
}

// redact takes the URL's password (in the user part or as a password=
// parameter, raw or escaped) out of err's text, whatever layer put it
// there (pgx hides it in its own messages; this does not rely on that).
func redact(err error, databaseURL string) error {
	u, perr := url.Parse(databaseURL)
	if perr != nil {
		// Not even a URL: nothing of it is repeated, since its password
		// cannot be told apart.
		return errors.New("store: not a valid postgres:// URL (check the host and port, and percent-encode special characters in the password)")
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	if pw := u.Query().Get("password"); pw != "" {
		secrets = append(secrets, pw)
	}
	text := err.Error()
	for _, pw := range secrets {
		if pw == "" {
			continue
		}
		for _, form := range []string{pw, url.PathEscape(pw), url.QueryEscape(pw), url.UserPassword("", pw).String()[1:]} {
			text = strings.ReplaceAll(text, form, "xxxxx")
		}
	}
	if text == err.Error() {
		return err
	}
	return errors.New(text)
}
