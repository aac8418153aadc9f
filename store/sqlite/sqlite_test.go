package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/storetest"
)

// grace is a reuse grace window for the tests that write one.
const grace = 10 * time.Second

// openStore opens the database at path with its clock reading *now, and
// closes it when the test ends.
func openStore(t *testing.T, path string, now *time.Time) *Store {
	t.Helper()
	return openClock(t, path, func() time.Time { return *now })
}

// openClock opens the database at path with the clock now, and closes it
// when the test ends.
func openClock(t *testing.T, path string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.Now = now
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a fresh database in a directory that does not exist yet.
func newStore(t *testing.T, now *time.Time) *Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "data", "tokenflow.db"), now)
}

// count runs a SELECT count(*) query.
func count(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestContract holds the SQLite store to the behaviour every store shares.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openClock(t, filepath.Join(t.TempDir(), "data", "tokenflow.db"), now)
	})
}

// TestContractTwoStores: two handles on one file, as two processes have.
func TestContractTwoStores(t *testing.T) {
	storetest.RunTwoStores(t, func(t *testing.T, now func() time.Time) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "tokenflow.db")
		var pair [2]store.Store
		for i := range pair {
			pair[i] = openClock(t, path, now)
		}
		return pair[0], pair[1]
	})
}

func TestOpenSQLite(t *testing.T) {
	now := storetest.T0
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "tokenflow.db")

	s := openStore(t, path, &now)
	storetest.MustUser(t, s, "alice")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("stat parent dir: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("parent dir mode = %o, want 700", perm)
	}

	// Reopening applies nothing twice and keeps the data.
	s = openStore(t, path, &now)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	files, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); got != len(files) {
		t.Errorf("goose_db_version rows = %d, want %d", got, len(files))
	}
	if _, err := s.UserByUsername(context.Background(), "alice"); err != nil {
		t.Errorf("UserByUsername after reopen: %v", err)
	}

	pragmas := []struct{ name, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "10000"},
	}
	for _, p := range pragmas {
		var got string
		if err := s.db.QueryRow("PRAGMA " + p.name).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", p.name, err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %q, want %q", p.name, got, p.want)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	now := storetest.T0
	path := filepath.Join(t.TempDir(), "tokenflow.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return now }
	alice := storetest.MustUser(t, s, "alice")
	sess := storetest.MustSession(t, s, alice.ID, "h1")
	storetest.UseToken(t, s, "h1", "h2")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, &now)
	ctx := context.Background()
	if got, err := s.UserByUsername(ctx, "ALICE"); err != nil || got != alice {
		t.Errorf("UserByUsername after reopen = %+v, %v; want %+v", got, err, alice)
	}
	if got, err := s.SessionByRefreshHash(ctx, "h2"); err != nil || got.ID != sess.ID {
		t.Errorf("SessionByRefreshHash after reopen = %+v, %v", got, err)
	}
	// The rotated token is kept as used, for reuse detection.
	if tok := storetest.MustToken(t, s, "h1"); !tok.Used() || tok.SessionID != sess.ID {
		t.Errorf("rotated token after reopen = %+v, want it kept as used", tok)
	}
}

func TestNowDefaultsToTimeNow(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tokenflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := time.Now().Add(-time.Second)
	u, err := s.CreateUser(context.Background(), "alice", "hash")
	if err != nil {
		t.Fatal(err)
	}
	if u.CreatedAt.Before(before) || u.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want about now in UTC", u.CreatedAt)
	}
}

// The database holds password hashes and session rows: whatever the folder's
// mode and the process's umask, the file and its -wal and -shm companions
// are readable by the owner only. A file left readable by an older version
// is tightened on open.
func TestOpenSQLiteFilesArePrivate(t *testing.T) {
	now := storetest.T0
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tokenflow.db")
	assertPrivate := func(t *testing.T) {
		t.Helper()
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatalf("%s: %v (the WAL files exist while the store is open)", filepath.Base(f), err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s mode %o, want 600", filepath.Base(f), perm)
			}
		}
	}

	t.Run("new database", func(t *testing.T) {
		s := openStore(t, path, &now)
		storetest.MustSession(t, s, storetest.MustUser(t, s, "alice").ID, "h1") // writes: the WAL grows
		assertPrivate(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("existing database left readable by others", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{path + "-wal", path + "-shm"} {
			// Left behind by a crash, readable by others.
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s := openStore(t, path, &now)
		storetest.MustUser(t, s, "bob")
		assertPrivate(t)
	})
}
