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

	"tokenflow/store/storetest"
)

func TestOperations(t *testing.T) {
	storetest.RunOperations(t, func(t *testing.T, now func() time.Time) (storetest.Operations, func() error) {
		s := openClock(t, filepath.Join(t.TempDir(), "data", "tokenflow.db"), now)
		return s, func() error {
			_, err := s.db.Exec(`DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`)
			return err
		}
	})
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
