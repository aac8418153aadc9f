package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/storetest"
)

func TestCountActiveSessions(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	ctx := context.Background()
	u := storetest.MustUser(t, s, "alice")
	storetest.MustSession(t, s, u.ID, "h-live")
	revoked := storetest.MustSession(t, s, u.ID, "h-revoked")
	storetest.Revoke(t, s, revoked.ID, store.EventLogout)
	now = now.Add(storetest.IdleTTL / 2)
	storetest.MustSession(t, s, u.ID, "h-late") // still live after the first one idles out
	if n, err := s.CountActiveSessions(ctx); err != nil || n != 2 {
		t.Fatalf("CountActiveSessions = %d, %v; want 2 (the revoked one is not live)", n, err)
	}
	now = now.Add(storetest.IdleTTL/2 + time.Millisecond)
	if n, err := s.CountActiveSessions(ctx); err != nil || n != 1 {
		t.Fatalf("after the first idled out: %d, %v; want 1", n, err)
	}
}

func TestMigrationsPending(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	ctx := context.Background()
	if n, err := s.MigrationsPending(ctx); err != nil || n != 0 {
		t.Fatalf("after Open: %d, %v; want 0", n, err)
	}
	// Someone restored an older file under the running server.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MigrationsPending(ctx); err != nil || n != 1 {
		t.Fatalf("with one unrecorded: %d, %v; want 1", n, err)
	}
}

func TestBackupRefusesAnExistingFileAndAMissingDatabase(t *testing.T) {
	now := storetest.T0
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "tokenflow.db"), &now)
	storetest.MustUser(t, s, "alice")
	ctx := context.Background()

	previous := filepath.Join(dir, "yesterday.db")
	if err := os.WriteFile(previous, []byte("the last good backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, filepath.Join(dir, "tokenflow.db"), previous); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("Backup over an existing file: %v, want ErrBackupExists", err)
	}
	if got, _ := os.ReadFile(previous); string(got) != "the last good backup" {
		t.Fatalf("the existing file was changed: %q", got)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// VACUUM INTO itself would accept an empty file; we do not.
	if err := Backup(ctx, filepath.Join(dir, "tokenflow.db"), empty); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("Backup over an empty file: %v, want ErrBackupExists", err)
	}

	missing := filepath.Join(dir, "typo.db")
	dest := filepath.Join(dir, "never.db")
	if err := Backup(ctx, missing, dest); err == nil {
		t.Fatal("Backup of a missing database succeeded")
	}
	for _, f := range []string{missing, dest} {
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was created (%v)", f, err)
		}
	}
}

// A backup taken while another connection writes is a consistent snapshot:
// it opens, passes SQLite's integrity check, and holds every user whose
// creation had returned before the backup started.
func TestBackupWhileWriting(t *testing.T) {
	now := storetest.T0
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "tokenflow.db")
	s := openStore(t, dbPath, &now)
	ctx := context.Background()
	for i := range 20 {
		storetest.MustUser(t, s, fmt.Sprintf("before-%d", i))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.CreateUser(ctx, fmt.Sprintf("during-%d", i), "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"); err != nil {
				t.Errorf("CreateUser during backup: %v", err)
				return
			}
			written.Add(1)
		}
	}()
	for written.Load() < 5 { // the writer is running
		time.Sleep(time.Millisecond)
	}
	dest := filepath.Join(dir, "backup.db")
	err := Backup(ctx, dbPath, dest)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	info, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", info.Mode().Perm())
	}

	copy := openStore(t, dest, &now)
	var check string
	if err := copy.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
	for i := range 20 {
		if _, err := copy.UserByUsername(ctx, fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatalf("before-%d missing from the backup: %v", i, err)
		}
	}
	var during int
	if err := copy.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE username LIKE 'during-%'`).Scan(&during); err != nil {
		t.Fatal(err)
	}
	if during < 5 || int64(during) > written.Load() {
		t.Errorf("backup holds %d users written during it; want between 5 and %d", during, written.Load())
	}
}
