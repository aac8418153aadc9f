package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"tokenflow/store/storetest"
)

// runnerDatabase makes a fresh file as the hand-written runner before
// goose left it, through database/sql alone: the migration files named
// applied, each recorded in schema_migrations by file name at
// storetest.T0. The caller adds its rows and closes it.
func runnerDatabase(t *testing.T, names ...string) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenflow.db")
	db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?)`, name, storetest.T0.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	return path, db
}

// A database made before grace_until existed keeps working: its rotated
// tokens get no forgiveness (their deadline is their use), its current
// tokens stay current.
func TestMigrationBackfillsGraceUntil(t *testing.T) {
	path, db := runnerDatabase(t, "0001_init.sql")
	at := storetest.T0.UnixMilli()
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO users VALUES ('u1', 'alice', 'alice', 'hash', %d)`, at),
		fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at)
			VALUES ('s1', 'u1', %d, %d, %d, %d)`, at, at, at+storetest.IdleTTL.Milliseconds(), at+storetest.MaxAge.Milliseconds()),
		fmt.Sprintf(`INSERT INTO refresh_tokens (id, session_id, token_hash, created_at) VALUES (2, 's1', 'old-current', %d)`, at),
		fmt.Sprintf(`INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, used_at, replaced_by) VALUES (1, 's1', 'old-rotated', %d, %d, 2)`, at, at),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	now := storetest.T0.Add(time.Second) // inside what used to be the rotated token's window
	s := openStore(t, path, &now)
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL AND grace_until = used_at`); n != 1 {
		t.Errorf("%d rotated tokens backfilled with grace_until = used_at, want 1", n)
	}
	// A deadline at the use is no forgiveness (auth's reuse rule).
	if tok := storetest.MustToken(t, s, "old-rotated"); !tok.Used() || !tok.GraceUntil.Equal(tok.UsedAt) {
		t.Errorf("token rotated before the migration = %+v, want its deadline at its use", tok)
	}
	if tok := storetest.MustToken(t, s, "old-current"); tok.Used() || !tok.GraceUntil.IsZero() {
		t.Errorf("current token after the migration = %+v, want it current with no deadline", tok)
	}
}

// A database made by the runner before goose (every migration recorded in
// schema_migrations by file name) opens without re-applying anything: its
// versions move into goose's table once and its data stays.
func TestUpgradeFromTheRunnerBeforeGoose(t *testing.T) {
	files, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	path, db := runnerDatabase(t, names...)
	if _, err := db.Exec(fmt.Sprintf(`INSERT INTO users VALUES ('u1', 'alice', 'alice', 'hash', %d)`, storetest.T0.UnixMilli())); err != nil {
		t.Fatal(err)
	}
	db.Close()

	now := storetest.T0
	for range 2 { // the second open finds goose's table alone
		s := openStore(t, path, &now)
		if _, err := s.UserByUsername(context.Background(), "alice"); err != nil {
			t.Fatalf("UserByUsername after the upgrade: %v", err)
		}
		if n := count(t, s, `SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied`); n != len(files) {
			t.Errorf("%d versions recorded as applied, want %d", n, len(files))
		}
		if n := count(t, s, `SELECT count(*) FROM sqlite_schema WHERE name = 'schema_migrations'`); n != 0 {
			t.Errorf("schema_migrations still there after the upgrade")
		}
		s.Close()
	}
}

// Several processes opening one fresh file at once: one applies each
// migration, the others wait and find it applied (without the lock, two of
// them read "nothing applied" and the second fails on CREATE TABLE users).
func TestConcurrentOpensOfAFreshFileMigrateOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenflow.db")
	storetest.AllAtOnce(t, "open", 6, func(int) error {
		s, err := Open(path)
		if err == nil {
			s.Close()
		}
		return err
	})
	now := storetest.T0
	s := openStore(t, path, &now)
	files, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); n != len(files) {
		t.Errorf("%d migration rows, want %d (each applied once)", n, len(files))
	}
}
