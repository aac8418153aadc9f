package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tokenflow/handlers"
	"tokenflow/internal/testkit"
	"tokenflow/store/postgres/pgtest"
)

const haproxyInstall = "apt-get install -y haproxy"

// TestHAProxyTwoInstancesOneStoreSurviveSIGKILL runs deploy/haproxy/haproxy.cfg
// in a real HAProxy over two real auth servers (this test binary as a child
// process, as main runs it) on one fresh PostgreSQL schema. Browsers keep
// refreshing through HAProxy while each instance in turn is killed with
// SIGKILL and started again. The ledger of every answered rotation must
// hold: no refresh answers 401 (nobody is logged out), and at the end each
// browser's latest refresh token works, at either instance directly.
func TestHAProxyTwoInstancesOneStoreSurviveSIGKILL(t *testing.T) {
	haproxyBin := requireHAProxy(t)
	databaseURL := pgtest.FreshURL(t)
	dir := t.TempDir()

	// Every setting that makes a token valid is the same on both: the store,
	// the key sealing the signing keys, issuer, audience, lifetimes. The
	// limits are per instance today: the login ones are out of this test's
	// way, the refresh one is at its ceiling and the browsers pace below it.
	shared := map[string]string{
		"DATABASE_URL": databaseURL, "KEY_ENCRYPTION_KEY": testKEK,
		"JWT_ISSUER": testIssuer, "JWT_AUDIENCE": testAudience,
		"ACCESS_TOKEN_TTL": "5m", "REFRESH_TOKEN_TTL": "1h", "REFRESH_REUSE_GRACE": "30s",
		"TRUSTED_PROXIES":    "127.0.0.1",
		"REFRESH_RATE_LIMIT": "60", "LOGIN_RATE_LIMIT": "100000", "REGISTER_RATE_LIMIT": "100000",
		"IP_FAILURE_LIMIT": "100000", "LOGIN_FAILURE_LIMIT": "100000",
		"SHUTDOWN_DRAIN": "0s",
	}
	instances := [2]*instance{}
	var starting sync.WaitGroup
	for i := range instances {
		vars := map[string]string{"ADDR": freeAddr(t), "DATA_DIR": filepath.Join(dir, fmt.Sprintf("app%d", i+1))}
		for k, v := range shared {
			vars[k] = v
		}
		instances[i] = &instance{name: fmt.Sprintf("app%d", i+1), vars: vars}
		t.Cleanup(instances[i].kill)
		// Both at once: the migrations run under an advisory lock.
		starting.Go(func() { instances[i].start(t) })
	}
	starting.Wait()
	if t.Failed() {
		t.FailNow()
	}
	lb := startHAProxy(t, haproxyBin, dir, instances[0].addr(), instances[1].addr())

	const browsers = 6
	ledgers := make([]*browserLedger, browsers)
	for i := range ledgers {
		ledgers[i] = &browserLedger{name: fmt.Sprintf("browser%d", i)}
		ledgers[i].refresh = registerAt(t, lb, ledgers[i].name)
	}
	ctx, stop := context.WithCancel(context.Background())
	var answered atomic.Int64
	var running sync.WaitGroup
	for _, b := range ledgers {
		running.Go(func() { b.keepRefreshing(ctx, lb, &answered) })
	}
	stopped := false
	stopBrowsers := func() {
		if !stopped {
			stopped = true
			stop()
			running.Wait()
		}
	}
	t.Cleanup(stopBrowsers)
	// Progress is counted in answered rotations, not waited for in time.
	// A browser stops at its first violation; that ends the wait too.
	violations := func() []string {
		var all []string
		for _, b := range ledgers {
			b.mu.Lock()
			all = append(all, b.violations...)
			b.mu.Unlock()
		}
		return all
	}
	progress := func(what string) {
		t.Helper()
		want := answered.Load() + 3*browsers
		testkit.WaitFor(t, what, func() bool { return answered.Load() >= want || len(violations()) > 0 })
		if v := violations(); len(v) > 0 {
			stopBrowsers()
			t.Fatalf("waiting for %s:\n%s", what, strings.Join(v, "\n"))
		}
	}

	progress("rotations through both instances")
	var late string
	for _, victim := range instances {
		victim.kill()
		progress("rotations while " + victim.name + " is dead")
		if late == "" {
			// An account made while one instance is dead lives in the store
			// the other one writes to.
			late = "latecomer"
			registerAt(t, lb, late)
		}
		victim.start(t)
		progress("rotations after " + victim.name + " is back")
	}
	stopBrowsers()

	for _, v := range violations() {
		t.Error(v)
	}
	t.Logf("answered rotations: %d; unanswered (cut by a kill or refused while down, then retried): %d; rate limited: %d",
		answered.Load(), sum(ledgers, func(b *browserLedger) int { return b.unanswered }), sum(ledgers, func(b *browserLedger) int { return b.limited }))

	// The latest token of every browser works at one instance, the token
	// that answer gives at the other, and the access token one instance
	// signed is accepted by the other.
	for _, b := range ledgers {
		atFirst, access := refreshAt(t, "http://"+instances[0].addr(), b.refresh)
		if atFirst == "" {
			t.Errorf("%s: its latest refresh token (after %d answered rotations) is refused by app1", b.name, b.rotations)
			continue
		}
		if next, _ := refreshAt(t, "http://"+instances[1].addr(), atFirst); next == "" {
			t.Errorf("%s: app2 refuses the refresh token app1 just issued", b.name)
		}
		if got := statusOf(t, "http://"+instances[1].addr()+"/api/me", access); got != http.StatusOK {
			t.Errorf("%s: app2 answers %d to the access token app1 signed", b.name, got)
		}
	}
	if registerAt(t, "http://"+instances[0].addr(), late) == "" {
		t.Errorf("the account registered while app1 was dead cannot log in at app1")
	}
}

func requireHAProxy(t *testing.T) string {
	t.Helper()
	return testkit.RequireTool(t, "haproxy", haproxyInstall+" (and TEST_DATABASE_URL, as .ci/run sets it)", "haproxy")
}

// instance is one auth server process, started again on the same address
// after a kill, as a supervisor would.
type instance struct {
	name   string
	vars   map[string]string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd is reaped
	log    *testkit.SyncBuffer
}

func (in *instance) addr() string { return in.vars["ADDR"] }

func (in *instance) start(t *testing.T) {
	cmd := testkit.ChildCommand(in.vars)
	log := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Errorf("%s: %v", in.name, err)
		return
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	in.mu.Lock()
	in.cmd, in.exited, in.log = cmd, exited, log
	in.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if statusOf(t, "http://"+in.addr()+"/readyz", "") == http.StatusOK {
			return
		}
		select {
		case <-exited:
			// How it ended tells a start-up failure (exit status 1, with
			// the reason in its output) from a kill from outside (a signal,
			// often before it wrote a line).
			t.Errorf("%s exited at start (%v):\n%s", in.name, cmd.ProcessState, log.String())
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Errorf("%s is not ready:\n%s", in.name, log.String())
			return
		}
	}
}

// kill is SIGKILL: no drain, no goodbye to HAProxy, requests in flight cut.
func (in *instance) kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd != nil {
		_ = in.cmd.Process.Signal(syscall.SIGKILL)
		<-in.exited
		in.cmd = nil
	}
}

func startHAProxy(t *testing.T, bin, dir, app1, app2 string) string {
	t.Helper()
	conf, err := filepath.Abs(filepath.Join("haproxy", "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	cmd := exec.Command(bin, "-db", "-f", conf)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TOKENFLOW_LB_LISTEN="+listen, "TOKENFLOW_APP1="+app1, "TOKENFLOW_APP2="+app2)
	base := "http://" + listen
	testkit.StartProcess(t, "haproxy", cmd).WaitReady(t, func() bool { return statusOf(t, base+"/readyz", "") == http.StatusOK })
	return base
}

// browserLedger is one browser's memory: the newest refresh token it was
// given, and what went wrong.
type browserLedger struct {
	name       string
	mu         sync.Mutex
	refresh    string
	rotations  int
	unanswered int
	limited    int
	violations []string
}

// browserPace keeps a browser under REFRESH_RATE_LIMIT=60 even when one
// instance takes all its refreshes.
const browserPace = 1100 * time.Millisecond

// keepRefreshing rotates the refresh token through the load balancer until
// ctx ends. A request without an answer (HAProxy's 502 for a request the
// kill cut, a 503 while no instance is up, a broken connection) is no
// answer: the browser presents the same token again, which works whether or
// not the cut rotation committed (inside REFRESH_REUSE_GRACE). A 401 is
// always a violation: this browser never logged out.
func (b *browserLedger) keepRefreshing(ctx context.Context, lb string, answered *atomic.Int64) {
	client := noRedirects()
	for ctx.Err() == nil {
		b.mu.Lock()
		token := b.refresh
		b.mu.Unlock()
		status, next, err := postRefresh(ctx, client, lb, token)
		b.mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil, status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
			b.unanswered++
		case status == http.StatusOK && next != "":
			b.refresh = next
			b.rotations++
			answered.Add(1)
		case status == http.StatusTooManyRequests:
			b.limited++ // the session is unharmed; later
		case status == http.StatusUnauthorized:
			b.violations = append(b.violations, fmt.Sprintf("%s: refresh answered 401 after %d rotations: logged out though it never logged out", b.name, b.rotations))
		default:
			b.violations = append(b.violations, fmt.Sprintf("%s: refresh answered %d", b.name, status))
		}
		stop := len(b.violations) > 0
		b.mu.Unlock()
		if stop {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(browserPace):
		}
	}
}

func postRefresh(ctx context.Context, client *http.Client, base, refresh string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/auth/refresh", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", "application/json")
	_, refreshName := handlers.CookieNames(false)
	req.AddCookie(&http.Cookie{Name: refreshName, Value: refresh})
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var times struct {
		RefreshExpiresAt string `json:"refresh_expires_at"`
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", err // cut mid-body: no answer
	}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &times); err != nil || times.RefreshExpiresAt == "" {
			return res.StatusCode, "", fmt.Errorf("refresh answer %q: %v", body, err)
		}
	}
	return res.StatusCode, cookie(res, refreshName), nil
}

// refreshAt rotates refresh at base and returns the new refresh and access
// tokens, or "" when it is refused.
func refreshAt(t *testing.T, base, refresh string) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/auth/refresh", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	access, refreshName := handlers.CookieNames(false)
	req.AddCookie(&http.Cookie{Name: refreshName, Value: refresh})
	res, err := noRedirects().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Logf("refresh at %s: %d", base, res.StatusCode)
		return "", ""
	}
	return cookie(res, refreshName), cookie(res, access)
}

// registerAt makes the account at base (or logs in when it exists) and
// returns the refresh token, or "" when neither works.
func registerAt(t *testing.T, base, user string) string {
	t.Helper()
	_, refreshName := handlers.CookieNames(false)
	res, err := noRedirects().PostForm(base+"/auth/register", url.Values{"username": {user}, "password": {testPassword}, "password_confirm": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusUnprocessableEntity {
		res, err = noRedirects().PostForm(base+"/auth/login", url.Values{"username": {user}, "password": {testPassword}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if res.StatusCode != http.StatusSeeOther {
		t.Logf("register or log in %s at %s: %d", user, base, res.StatusCode)
		return ""
	}
	return cookie(res, refreshName)
}

// statusOf GETs u (with a Bearer token if given); 0 when nothing answers.
func statusOf(t *testing.T, u, bearer string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := noRedirects().Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func noRedirects() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func cookie(res *http.Response, name string) string {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func sum(ledgers []*browserLedger, f func(*browserLedger) int) int {
	n := 0
	for _, b := range ledgers {
		b.mu.Lock()
		n += f(b)
		b.mu.Unlock()
	}
	return n
}
