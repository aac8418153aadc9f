package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/storetest"
)

// smallDisk mounts a 2 MiB tmpfs for the test and unmounts it at the end.
// It needs root; elsewhere the test is skipped, except under CI, where a
// skipped fault test would hide that it never ran.
func smallDisk(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the disk-full test needs root to mount a tmpfs")
		}
		t.Skip("not root: cannot mount a small tmpfs to fill")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	// Registered after TempDir's cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file until the disk has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// A full disk fails the rotation with store.ErrUnavailable and writes
// nothing of it: the presented token is still live, and rotates once the
// space is back.
func TestDiskFullRollsBackAndRecovers(t *testing.T) {
	dir := smallDisk(t)
	now := storetest.T0
	s := openStore(t, filepath.Join(dir, "tokenflow.db"), &now)
	u := storetest.MustUser(t, s, "alice")
	storetest.MustSession(t, s, u.ID, "hash-1")
	// Empty the WAL, so the next write has to grow it on the full disk.
	if _, err := s.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(dir, "ballast")
	fill(t, ballast)

	now = now.Add(time.Minute)
	ctx := context.Background()
	err := s.InTx(ctx, func(tx store.Tx) error {
		_, err := storetest.Rotate(ctx, tx, "hash-1", "hash-2", nil)
		return err
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("rotation on a full disk: %v, want store.ErrUnavailable", err)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if tok := storetest.MustToken(t, s, "hash-1"); !tok.UsedAt.IsZero() {
		t.Fatalf("the presented token was marked used by the failed rotation: %+v", tok)
	}
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE token_hash = 'hash-2'`); n != 0 {
		t.Fatalf("the failed rotation left its new token behind")
	}
	storetest.UseToken(t, s, "hash-1", "hash-2")
	if tok := storetest.MustToken(t, s, "hash-1"); tok.UsedAt.IsZero() {
		t.Fatal("the token did not rotate after the space came back")
	}
}

// A database SQLite refuses to write (SQLITE_READONLY; here query_only,
// since root ignores a chmod 0400) is unavailable, not an unknown error.
func TestReadOnlyDatabaseIsUnavailable(t *testing.T) {
	now := storetest.T0
	path := filepath.Join(t.TempDir(), "tokenflow.db")
	openStore(t, path, &now)
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ro := storeOn(db)
	ro.Now = func() time.Time { return now }
	if _, err := ro.CreateUser(context.Background(), "alice", "hash"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write to a read-only database: %v, want store.ErrUnavailable", err)
	}
}
