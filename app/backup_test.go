package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// refreshCookie is the refresh-token cookie the jar holds for base.
func refreshCookie(t *testing.T, c *http.Client, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base + "/auth/refresh")
	for _, ck := range c.Jar.Cookies(u) {
		if strings.Contains(ck.Name, "refresh_token") {
			return ck
		}
	}
	t.Fatal("no refresh cookie in the jar")
	return nil
}

// refreshWith presents exactly this refresh cookie, as a client that kept it.
func refreshWith(t *testing.T, base string, ck *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/refresh", nil)
	req.AddCookie(ck)
	return statusOf(t, http.DefaultClient, req)
}

// A backup taken while users log in and refresh restores into a fresh data
// folder that serves at once. What the test expects of a restore, and why:
//   - accounts in the backup log in with their passwords (the hashes are in it);
//   - a refresh token that was current at the backup works after the restore,
//     even on a new signing key: refresh tokens live only in the database;
//   - a token issued after the backup is unknown to the restored database and
//     refused (401, "log in again"), while the token it replaced, current in
//     the backup, works again: a restore rolls sessions back to the backup,
//     so a thief holding such an old token is back in too. That is why the
//     README says to revoke sessions after restoring an old backup when theft
//     is a concern.
func TestBackupUnderLoadRestoresAccountsAndSessions(t *testing.T) {
	vars := testEnv(t)
	vars["REGISTER_RATE_LIMIT"] = "1000"
	vars["LOGIN_RATE_LIMIT"] = "1000"
	vars["REFRESH_RATE_LIMIT"] = "60"
	base, _, stop := startInProcess(t, vars)

	keeper, mover := newClient(t), newClient(t)
	register(t, keeper, base, "keeper", "correct horse battery one")
	register(t, mover, base, "mover", "correct horse battery two")

	// Load: each worker logs in and refreshes its own account without end.
	var ops, failures atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		name := fmt.Sprintf("load%d", w)
		c := newClient(t)
		register(t, c, base, name, "a long password")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				var res *http.Response
				var err error
				if i%5 == 0 {
					res, err = c.PostForm(base+"/auth/login", url.Values{"username": {name}, "password": {"a long password"}})
				} else {
					res, err = c.Post(base+"/auth/refresh", "", nil)
				}
				if err != nil || res.StatusCode >= 500 {
					failures.Add(1)
				}
				if err == nil {
					res.Body.Close()
				}
				ops.Add(1)
			}
		}()
	}
	for ops.Load() < 20 { // polling until the load runs; nothing timed is asserted
		time.Sleep(time.Millisecond)
	}

	dest := filepath.Join(t.TempDir(), "tokenflow-backup.db")
	getenv := func(k string) string { return vars[k] }
	var out bytes.Buffer
	if err := Backup(context.Background(), getenv, []string{dest}, &out); err != nil {
		t.Fatalf("backup under load: %v", err)
	}
	opsAtBackup := ops.Load()
	moverAtBackup := refreshCookie(t, mover, base)
	if got := status(t, mover, http.MethodPost, base+"/auth/refresh"); got != http.StatusOK { // rotated after the backup
		t.Fatalf("mover's refresh: %d", got)
	}
	moverAfterBackup := refreshCookie(t, mover, base)
	for ops.Load() < opsAtBackup+20 { // the load went on after the backup
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed or answered 5xx during the backup", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", info.Mode().Perm())
	}
	if !strings.Contains(out.String(), dest) {
		t.Errorf("backup output: %q", out.String())
	}
	// A second backup to the same name is refused and leaves the first alone.
	before, _ := os.ReadFile(dest)
	if err := Backup(context.Background(), getenv, []string{dest}, &out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file: %v, want a refusal", err)
	}
	if after, _ := os.ReadFile(dest); !bytes.Equal(before, after) {
		t.Error("the refused backup changed the existing file")
	}

	// Restore as the README says: into a fresh data folder, then start.
	restored := testEnv(t)
	if err := os.MkdirAll(restored["DATA_DIR"], 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, dest, filepath.Join(restored["DATA_DIR"], "tokenflow.db"))
	// The signing keys in the database are sealed under KEY_ENCRYPTION_KEY;
	// in development that is a file beside the database, kept with the
	// backup (the README says so). Without it the server refuses to start.
	copyFile(t, filepath.Join(vars["DATA_DIR"], "key-encryption-key"), filepath.Join(restored["DATA_DIR"], "key-encryption-key"))
	base2, _, stop2 := startInProcess(t, restored)
	defer stop2()

	res, err := newClient(t).PostForm(base2+"/auth/login", url.Values{"username": {"keeper"}, "password": {"correct horse battery one"}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with a restored account: %v %v", res, err)
	}
	if got := status(t, keeper, http.MethodPost, base2+"/auth/refresh"); got != http.StatusOK {
		t.Errorf("refresh with a token current at the backup: %d, want 200", got)
	}
	if got := refreshWith(t, base2, moverAfterBackup); got != http.StatusUnauthorized {
		t.Errorf("refresh with a token issued after the backup: %d, want 401", got)
	}
	if got := refreshWith(t, base2, moverAtBackup); got != http.StatusOK {
		t.Errorf("refresh with the token current at the backup (rolled back): %d, want 200", got)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBackupCommandUsage(t *testing.T) {
	vars := testEnv(t)
	getenv := func(k string) string { return vars[k] }
	for name, args := range map[string][]string{
		"nok, no file":     nil,
		"nok, two files":   {"a.db", "b.db"},
		"nok, empty name":  {""},
		"nok, no database": {filepath.Join(t.TempDir(), "copy.db")},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Backup(context.Background(), getenv, args, &bytes.Buffer{}); err == nil {
				t.Fatal("Backup succeeded")
			}
			if _, err := os.Stat(vars["DATA_DIR"]); err == nil {
				t.Error("backup created the data folder")
			}
		})
	}
}
