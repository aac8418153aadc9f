package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tokenflow/internal/testkit"
	"tokenflow/store/postgres/pgtest"
)

// A test binary that testkit.StartChild started is the server, exactly as
// main runs it: the crash and signal tests use that.
func TestMain(m *testing.M) {
	testkit.ServeIfChild(func(ctx context.Context) error { return Run(ctx, os.Getenv, os.Stdout, os.Stderr, nil) })
	os.Exit(m.Run())
}

// startInProcess runs Run until the test ends; it returns the base URL and
// stdout, and a stop function that reports Run's error.
func startInProcess(t *testing.T, vars map[string]string) (string, *testkit.SyncBuffer, func() error) {
	t.Helper()
	base, stdout, _, stop := startInProcessLogs(t, vars)
	return base, stdout, stop
}

// startInProcessLogs is startInProcess that also returns stderr (the log).
func startInProcessLogs(t *testing.T, vars map[string]string) (string, *testkit.SyncBuffer, *testkit.SyncBuffer, func() error) {
	t.Helper()
	return startWith(t, Options{}, vars)
}

// startWith is startInProcessLogs with Options.
func startWith(t *testing.T, opts Options, vars map[string]string) (string, *testkit.SyncBuffer, *testkit.SyncBuffer, func() error) {
	t.Helper()
	stdout, stderr := &testkit.SyncBuffer{}, &testkit.SyncBuffer{}
	srv := testkit.Start(t, "Run", func(ctx context.Context, ready func(string)) error {
		return RunWith(ctx, opts, func(k string) string { return vars[k] }, stdout, stderr, ready)
	})
	return srv.URL, stdout, stderr, srv.Stop
}

func testEnv(t *testing.T) map[string]string {
	return map[string]string{"ADDR": "127.0.0.1:0", "DATA_DIR": filepath.Join(t.TempDir(), "data")}
}

func newClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func register(t *testing.T, c *http.Client, base, user, pw string) {
	t.Helper()
	res, err := c.PostForm(base+"/auth/register", url.Values{"username": {user}, "password": {pw}, "password_confirm": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d", res.StatusCode)
	}
}

func status(t *testing.T, c *http.Client, method, u string) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	return statusOf(t, c, req)
}

// response is method u from a client without cookies, its body closed.
func response(t *testing.T, method, u string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// statusOf sends req from c, as fetch does (Accept: application/json),
// and returns the status.
func statusOf(t *testing.T, c *http.Client, req *http.Request) int {
	t.Helper()
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestRunStartsCreatesDataAndShutsDownGracefully(t *testing.T) {
	vars := testEnv(t)
	base, stdout, stop := startInProcess(t, vars)
	if got := status(t, http.DefaultClient, http.MethodGet, base+"/healthz"); got != http.StatusOK {
		t.Fatalf("healthz: %d", got)
	}
	out := stdout.String()
	if !strings.Contains(out, "listening on "+base) || !strings.Contains(out, `demo account created: username "demo", password "`) {
		t.Errorf("stdout:\n%s", out)
	}
	for _, f := range []string{"tokenflow.db", "key-encryption-key", "demo-password"} {
		info, err := os.Stat(filepath.Join(vars["DATA_DIR"], f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if f != "tokenflow.db" && info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	pw, _ := os.ReadFile(filepath.Join(vars["DATA_DIR"], "demo-password"))
	c := newClient(t)
	res, err := c.PostForm(base+"/auth/login", url.Values{"username": {"demo"}, "password": {strings.TrimSpace(string(pw))}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo login: %v %v", res, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful shutdown returned %v", err)
	}

	// A second start keeps the demo account and prints it again, once.
	_, stdout2, stop2 := startInProcess(t, vars)
	if out := stdout2.String(); !strings.Contains(out, `demo account: username "demo", password "`+strings.TrimSpace(string(pw))) {
		t.Errorf("second start stdout:\n%s", out)
	}
	stop2()
}

func TestRunRefusesBadSettings(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		setting string
	}{
		{"nok, malformed TTL", map[string]string{"ACCESS_TOKEN_TTL": "banana"}, "ACCESS_TOKEN_TTL"},
		{"nok, production HS256 without secret", map[string]string{"APP_ENV": "production", "JWT_ALG": "HS256"}, "JWT_SECRET"},
		{"nok, production with a short secret", map[string]string{"APP_ENV": "production", "JWT_ALG": "HS256", "JWT_SECRET": "0123456789"}, "JWT_SECRET"},
		{"nok, production with a 31-byte secret", map[string]string{"APP_ENV": "production", "JWT_ALG": "HS256", "JWT_SECRET": strings.Repeat("s", 31)}, "JWT_SECRET"},
		{"nok, production ES256 without key encryption key", map[string]string{"APP_ENV": "production"}, "KEY_ENCRYPTION_KEY"},
		{"nok, production with a 31-character key encryption key", map[string]string{"APP_ENV": "production", "KEY_ENCRYPTION_KEY": strings.Repeat("k", 31)}, "KEY_ENCRYPTION_KEY"},
		{"nok, development with a short key encryption key", map[string]string{"KEY_ENCRYPTION_KEY": "short"}, "KEY_ENCRYPTION_KEY"},
		{"nok, unknown algorithm", map[string]string{"JWT_ALG": "HS512"}, "JWT_ALG"},
		{"nok, alg none", map[string]string{"JWT_ALG": "none"}, "JWT_ALG"},
		{"nok, rotation within the publication delay", map[string]string{"JWT_KEY_ROTATION": "10m", "JWKS_MAX_AGE": "5m"}, "JWT_KEY_ROTATION"},
		{"nok, public URL with a path", map[string]string{"PUBLIC_URL": "https://auth.example.com/x"}, "PUBLIC_URL"},
		{"nok, development with a tiny secret", map[string]string{"JWT_ALG": "HS256", "JWT_SECRET": "short"}, "JWT_SECRET"},
		{"nok, leeway above 5s", map[string]string{"ACCESS_TOKEN_LEEWAY": "6s"}, "ACCESS_TOKEN_LEEWAY"},
		{"nok, address without port", map[string]string{"ADDR": "localhost"}, "ADDR"},
		{"nok, port above 65535", map[string]string{"ADDR": "127.0.0.1:99999"}, "ADDR"},
		{"nok, negative port", map[string]string{"ADDR": ":-1"}, "ADDR"},
		{"nok, empty port", map[string]string{"ADDR": "127.0.0.1:"}, "ADDR"},
		{"nok, port not a number", map[string]string{"ADDR": ":http"}, "ADDR"},
		{"nok, postgres URL with a bad port", map[string]string{"DATABASE_URL": "postgres://app:Hunter2-s3cret@127.0.0.1:notaport/appdb"}, "DATABASE_URL"},
		{"nok, postgres URL with a bad sslmode", map[string]string{"DATABASE_URL": "postgresql://app:Hunter2-s3cret@127.0.0.1/appdb?sslmode=sometimes"}, "DATABASE_URL"},
		{"nok, postgres server unreachable", map[string]string{"DATABASE_URL": "postgres://app:Hunter2-s3cret@127.0.0.1:1/appdb?connect_timeout=2"}, "DATABASE_URL"},
		{"nok, unknown database scheme", map[string]string{"DATABASE_URL": "mysql://app:Hunter2-s3cret@127.0.0.1/appdb"}, "DATABASE_URL"},
		{"nok, sqlite without a path", map[string]string{"DATABASE_URL": "sqlite:"}, "DATABASE_URL"},
		{"nok, file without a path", map[string]string{"DATABASE_URL": "file:"}, "DATABASE_URL"},
		{"nok, sqlite path of spaces", map[string]string{"DATABASE_URL": "sqlite:   "}, "DATABASE_URL"},
		{"nok, sqlite with DSN options", map[string]string{"DATABASE_URL": "sqlite:data/x.db?_pragma=foreign_keys(0)"}, "DATABASE_URL"},
		{"nok, file with DSN options", map[string]string{"DATABASE_URL": "file:x.db?mode=ro"}, "DATABASE_URL"},
		{"nok, reuse grace above a minute", map[string]string{"REFRESH_REUSE_GRACE": "168h"}, "REFRESH_REUSE_GRACE"},
		{"nok, refresh rate limit above 60", map[string]string{"REFRESH_RATE_LIMIT": "61"}, "REFRESH_RATE_LIMIT"},
		{"nok, refresh rate limit far above 60", map[string]string{"REFRESH_RATE_LIMIT": "2000"}, "REFRESH_RATE_LIMIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := testEnv(t)
			for k, v := range tt.vars {
				vars[k] = v
			}
			err := Run(context.Background(), func(k string) string { return vars[k] }, &bytes.Buffer{}, &bytes.Buffer{}, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.setting+":") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line naming %s", err, tt.setting)
			}
			if strings.Contains(err.Error(), "Hunter2-s3cret") {
				t.Errorf("err = %v: it shows the database password", err)
			}
			if _, statErr := os.Stat(vars["DATA_DIR"]); !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("the data folder was created before the setting was refused (%v)", statErr)
			}
		})
	}
}

func TestCheckAddrAcceptsPorts0To65535(t *testing.T) {
	for _, addr := range []string{":0", "127.0.0.1:1", "[::1]:65535", ":8080"} {
		if err := checkAddr(addr); err != nil {
			t.Errorf("ADDR=%s: %v", addr, err)
		}
	}
}

// An account registered before a restart still calls /api/me with its
// access token (the signing key was kept) and refreshes after it, on
// SQLite and on PostgreSQL (DATABASE_URL=postgres://…): the state lives in
// the data folder and the database, not in the process.
func TestRestartKeepsEveryoneLoggedIn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		database func(t *testing.T) string
	}{
		{"SQLite", func(*testing.T) string { return "" }},
		{"PostgreSQL", func(t *testing.T) string { return pgtest.FreshURL(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := testEnv(t)
			if u := tc.database(t); u != "" {
				vars["DATABASE_URL"] = u
			}
			base, _, stop := startInProcess(t, vars)
			c := newClient(t)
			register(t, c, base, "restart", "a long password")
			if got := status(t, c, http.MethodGet, base+"/api/me"); got != http.StatusOK {
				t.Fatalf("/api/me before restart: %d", got)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			base2, _, _ := startInProcess(t, vars)
			// Cookies are per host, not per port, so the jar carries over to the new port.
			if got := status(t, c, http.MethodGet, base2+"/api/me"); got != http.StatusOK {
				t.Fatalf("/api/me after restart: %d (the signing key was not kept)", got)
			}
			if got := status(t, c, http.MethodPost, base2+"/auth/refresh"); got != http.StatusOK {
				t.Fatalf("refresh after restart: %d", got)
			}
			if got := status(t, c, http.MethodGet, base2+"/api/me"); got != http.StatusOK {
				t.Fatalf("/api/me after the refresh: %d", got)
			}
		})
	}
}

func TestKillNineLosesNoCommittedUserOrSession(t *testing.T) {
	vars := testEnv(t)
	srv := testkit.StartChild(t, vars)
	base := srv.URL
	c := newClient(t)
	register(t, c, base, "crash", "a long password")
	if got := status(t, c, http.MethodPost, base+"/auth/refresh"); got != http.StatusOK {
		t.Fatalf("refresh: %d", got)
	}
	if err := srv.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Cmd.Wait()

	base2 := testkit.StartChild(t, vars).URL
	if got := status(t, c, http.MethodPost, base2+"/auth/refresh"); got != http.StatusOK {
		t.Fatalf("refresh after kill -9: %d (session lost)", got)
	}
	res, err := newClient(t).PostForm(base2+"/auth/login", url.Values{"username": {"crash"}, "password": {"a long password"}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after kill -9: %v %v (user lost)", res, err)
	}
}

func TestSIGTERMExitsZero(t *testing.T) {
	vars := testEnv(t)
	srv := testkit.StartChild(t, vars)
	base := srv.URL
	if got := status(t, http.DefaultClient, http.MethodGet, base+"/healthz"); got != http.StatusOK {
		t.Fatalf("healthz: %d", got)
	}
	if err := srv.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
}

// The data folder is relative to the working directory, so `cd handlers &&
// go run ..` silently starts a second, empty one. Start-up names the folder
// absolutely and says whether this start created it.
func TestStartupNamesTheAbsoluteDataFolderAndWhetherItIsNew(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	vars := map[string]string{"ADDR": "127.0.0.1:0"} // DATA_DIR unset: the default "data", relative
	wantFolder := filepath.Join(dir, "data")

	_, stdout, stop := startInProcess(t, vars)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if want := "data: " + wantFolder + " (new)\n"; !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("first start stdout:\n%s\nwant it to begin with %q", stdout, want)
	}

	_, stdout2, stop2 := startInProcess(t, vars)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if want := "data: " + wantFolder + " (existing)\n"; !strings.HasPrefix(stdout2.String(), want) {
		t.Errorf("second start stdout:\n%s\nwant it to begin with %q", stdout2, want)
	}
	if !strings.Contains(stdout2.String(), "listening on http://127.0.0.1:") {
		t.Errorf("the listening line is gone:\n%s", stdout2)
	}
}

// A port that is taken or out of range stops start-up before anything is
// created: no data folder, no database, no key, no demo account.
func TestRunCreatesNothingWhenItCannotListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for name, addr := range map[string]string{
		"nok, port taken":        taken.Addr().String(),
		"nok, port out of range": "127.0.0.1:99999",
	} {
		t.Run(name, func(t *testing.T) {
			vars := testEnv(t)
			vars["ADDR"] = addr
			var stdout bytes.Buffer
			err := Run(context.Background(), func(k string) string { return vars[k] }, &stdout, &bytes.Buffer{}, nil)
			if err == nil || !strings.HasPrefix(err.Error(), "ADDR") {
				t.Fatalf("err = %v, want one naming ADDR", err)
			}
			if _, err := os.Stat(vars["DATA_DIR"]); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the data folder was created anyway (%v)", err)
			}
			if strings.Contains(stdout.String(), "demo account") {
				t.Errorf("stdout: %s", stdout.String())
			}
		})
	}
}

// In a data folder others can read, the database and its -wal and -shm
// files are still 0600, and start-up says once that the folder is open.
func TestRunKeepsDataPrivateInAnOpenFolder(t *testing.T) {
	vars := testEnv(t)
	dir := vars["DATA_DIR"]
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	base, _, stderr, stop := startInProcessLogs(t, vars)
	register(t, newClient(t), base, "private", "a long password") // a write: the WAL is in use
	for _, f := range []string{"tokenflow.db", "tokenflow.db-wal", "tokenflow.db-shm", "key-encryption-key", "demo-password"} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, dir) {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "0755") {
		t.Errorf("want one warning naming the folder and its mode; log:\n%s", stderr.String())
	}

	t.Run("a private folder gets no warning", func(t *testing.T) {
		vars := testEnv(t) // Run creates it 0700
		_, _, stderr, stop := startInProcessLogs(t, vars)
		stop()
		if strings.Contains(stderr.String(), "level=WARN") {
			t.Errorf("log:\n%s", stderr.String())
		}
	})
}

// A short SESSION_MAX_AGE alone starts (the default REFRESH_TOKEN_TTL is
// capped to it, and start-up says so), and so does REFRESH_REUSE_GRACE=0.
func TestRunAcceptsAShortSessionMaxAgeAndNoGrace(t *testing.T) {
	vars := testEnv(t)
	vars["SESSION_MAX_AGE"] = "12h"
	vars["REFRESH_REUSE_GRACE"] = "0s"
	_, _, stderr, stop := startInProcessLogs(t, vars)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "REFRESH_TOKEN_TTL not set: capped to SESSION_MAX_AGE (12h0m0s)") {
		t.Errorf("log:\n%s", stderr.String())
	}
}

// Options.Now is the clock of every part that decides a lifetime: tokens
// are stamped and checked by it, the store dates sessions by it, and a
// token expires when it passes, with no wall-clock wait.
func TestRunWithClockReachesEveryPart(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	vars := testEnv(t)
	vars["ACCESS_TOKEN_TTL"], vars["REFRESH_REUSE_GRACE"] = "1m", "10s"
	base, _, _, _ := startWith(t, Options{Now: clock}, vars)
	c := newClient(t)
	register(t, c, base, "clocked", "correct horse battery")

	var me struct {
		IssuedAt int64 `json:"iat"`
	}
	getJSON(t, c, base+"/api/me", &me)
	if want := clock().Unix(); me.IssuedAt != want {
		t.Errorf("iat %d, want the injected clock's %d", me.IssuedAt, want)
	}
	advance(2 * time.Minute)
	if got := status(t, c, http.MethodGet, base+"/api/me"); got != http.StatusUnauthorized {
		t.Fatalf("/api/me after the clock passed the token's expiry: %d, want 401", got)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/refresh", nil)
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var refreshed struct {
		AccessExpiresAt  time.Time `json:"access_expires_at"`
		RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	}
	err = json.NewDecoder(res.Body).Decode(&refreshed)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d, %v", res.StatusCode, err)
	}
	if want := clock().Add(time.Minute); !refreshed.AccessExpiresAt.Equal(want) {
		t.Errorf("access_expires_at %v, want %v", refreshed.AccessExpiresAt, want)
	}
	if want := clock().Add(168 * time.Hour); !refreshed.RefreshExpiresAt.Equal(want) {
		t.Errorf("refresh_expires_at %v, want the store's %v", refreshed.RefreshExpiresAt, want)
	}
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
