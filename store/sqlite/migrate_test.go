package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// A database made before grace_until existed keeps working: its rotated
// tokens get no forgiveness (their deadline is their use), its current
// tokens stay current.
func TestMigrationBackfillsGraceUntil(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenflow.db")
	db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	first, err := migrationFiles.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	at := t0.UnixMilli()
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		string(first),
		fmt.Sprintf(`INSERT INTO schema_migrations VALUES ('0001_init.sql', %d)`, at),
		fmt.Sprintf(`INSERT INTO users VALUES ('u1', 'alice', 'alice', 'hash', %d)`, at),
		fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at)
			VALUES ('s1', 'u1', %d, %d, %d, %d)`, at, at, at+idleTTL.Milliseconds(), at+maxAge.Milliseconds()),
		fmt.Sprintf(`INSERT INTO refresh_tokens (id, session_id, token_hash, created_at) VALUES (2, 's1', 'old-current', %d)`, at),
		fmt.Sprintf(`INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, used_at, replaced_by) VALUES (1, 's1', 'old-rotated', %d, %d, 2)`, at, at),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	now := t0.Add(time.Second) // inside what used to be the rotated token's window
	s := openStore(t, path, &now)
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL AND grace_until = used_at`); n != 1 {
		t.Errorf("%d rotated tokens backfilled with grace_until = used_at, want 1", n)
	}
	// A deadline at the use is no forgiveness (auth's reuse rule).
	if tok := mustToken(t, s, "old-rotated"); !tok.Used() || !tok.GraceUntil.Equal(tok.UsedAt) {
		t.Errorf("token rotated before the migration = %+v, want its deadline at its use", tok)
	}
	if tok := mustToken(t, s, "old-current"); tok.Used() || !tok.GraceUntil.IsZero() {
		t.Errorf("current token after the migration = %+v, want it current with no deadline", tok)
	}
}
