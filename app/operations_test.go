package app

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tokenflow/auth"
	"tokenflow/internal/testkit"
)

// childWithMetrics starts the test binary as the server with a metrics
// listener on a free port; it returns the server and the metrics URL.
func childWithMetrics(t *testing.T, vars map[string]string) (*testkit.Child, string) {
	t.Helper()
	vars["METRICS_ADDR"] = "127.0.0.1:0"
	c := testkit.StartChild(t, vars)
	return c, metricsURLFrom(t, c.Printed)
}

// metricValue reads one sample of the metrics text (0 when absent).
func metricValue(t *testing.T, metricsURL, sample string) float64 {
	t.Helper()
	res, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// SIGTERM while many logins hash (queued behind the few argon2 slots): the
// server stops accepting, yet every request it had accepted is answered
// with its real result, and it exits 0. The real result is 303 and both
// cookies, or, for a login that got no hashing slot within
// auth.MaxHashWait (the hasher clears fewer than 40 logins in that time
// on a loaded machine), the busy answer it gets without SIGTERM too: 503
// with Retry-After, after waiting out the bound. Logins still queued at
// SIGTERM must go on getting slots and sessions: more log in after it than
// were hashing when it was sent.
func TestSIGTERMAnswersEveryLoginInFlight(t *testing.T) {
	vars := testEnv(t)
	vars["REGISTER_RATE_LIMIT"] = "1000"
	vars["LOGIN_RATE_LIMIT"] = "1000"
	srv, metricsURL := childWithMetrics(t, vars)
	base := srv.URL
	const users = 40
	for i := range users {
		register(t, newClient(t), base, fmt.Sprintf("inflight%d", i), "a long password")
	}

	type answer struct {
		err        error
		status     int
		cookies    int
		retryAfter string
		waited     time.Duration
		afterTERM  bool
	}
	var answered atomic.Int64
	var signalled atomic.Bool
	answers := make(chan answer, users)
	var wg sync.WaitGroup
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t)
			c.Timeout = 30 * time.Second
			// A connection of its own: a request sent on a pooled idle
			// keep-alive connection races the server closing idle
			// connections at shutdown and can be lost before the server
			// reads a byte of it (HTTP/1.1 itself; clients retry only
			// idempotent requests). That race is what SHUTDOWN_DRAIN and
			// /readyz are for; this test is about requests the server has.
			c.Transport = &http.Transport{DisableKeepAlives: true}
			sent := time.Now()
			res, err := c.PostForm(base+"/auth/login", url.Values{"username": {fmt.Sprintf("inflight%d", i)}, "password": {"a long password"}})
			if err != nil {
				answers <- answer{err: err}
				return
			}
			res.Body.Close()
			after := signalled.Load()
			answered.Add(1)
			answers <- answer{status: res.StatusCode, cookies: len(res.Cookies()), retryAfter: res.Header.Get("Retry-After"), waited: time.Since(sent), afterTERM: after}
		}()
	}
	// In flight, seen from the server: every login has reached the server
	// (answered, hashing, or queued for a hashing slot) and at least 8 are
	// queued. A request still in the kernel's accept queue when the
	// listener closes is reset without an answer, as HTTP allows; that is
	// what SHUTDOWN_DRAIN and /readyz are for, not what this test is about.
	var inUse float64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) { // polling, not a timed assertion
		waiting := metricValue(t, metricsURL, "tokenflow_password_hash_waiting")
		inUse = metricValue(t, metricsURL, "tokenflow_password_hash_in_use")
		if waiting >= 8 && answered.Load()+int64(waiting+inUse) >= users {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d logins never all reached the server (waiting %v, hashing %v, answered %d)", users, waiting, inUse, answered.Load())
		}
	}
	signalled.Store(true)
	if err := srv.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	unanswered := users - answered.Load()
	wg.Wait()
	close(answers)
	loggedInAfter, busy := 0, 0
	for a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("a login in flight at SIGTERM got no answer: %v", a.err)
		case a.status == http.StatusSeeOther && a.cookies == 2:
			if a.afterTERM {
				loggedInAfter++
			}
		case a.status == http.StatusServiceUnavailable && a.retryAfter != "" && a.waited >= auth.MaxHashWait:
			busy++ // no hashing slot within the bound: the answer it gets without SIGTERM too
		default:
			t.Errorf("a login in flight at SIGTERM got %d with %d cookies (Retry-After %q, after %v), want 303 with both cookies, or 503 with Retry-After once the hashing wait ran out",
				a.status, a.cookies, a.retryAfter, a.waited)
		}
	}
	if err := srv.Cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
	t.Logf("%d of %d logins were unanswered when SIGTERM was sent (%v hashing); %d logged in after it, %d busy", unanswered, users, inUse, loggedInAfter, busy)
	if unanswered < 8 {
		t.Errorf("only %d logins were in flight at SIGTERM: the test proved little", unanswered)
	}
	if float64(loggedInAfter) <= inUse {
		t.Errorf("%d logins succeeded after SIGTERM, no more than the %v hashing when it was sent: the queued ones got no slot", loggedInAfter, inUse)
	}
}

// From SIGTERM on, /readyz answers 503 "draining" while the server still
// serves everything else for SHUTDOWN_DRAIN, so a load balancer moves the
// traffic away before the listener closes; then it exits 0.
func TestSIGTERMDrainsWithReadyz503(t *testing.T) {
	vars := testEnv(t)
	vars["SHUTDOWN_DRAIN"] = "5s"
	srv := testkit.StartChild(t, vars)
	base := srv.URL
	c := newClient(t)
	register(t, c, base, "drainer", "a long password")
	if got := status(t, http.DefaultClient, http.MethodGet, base+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d", got)
	}
	if err := srv.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for status(t, http.DefaultClient, http.MethodGet, base+"/readyz") != http.StatusServiceUnavailable {
		time.Sleep(time.Millisecond)
	}
	// Draining, not down: alive, and new requests are still served.
	if got := status(t, http.DefaultClient, http.MethodGet, base+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while draining: %d", got)
	}
	if got := status(t, c, http.MethodPost, base+"/auth/refresh"); got != http.StatusOK {
		t.Errorf("refresh while draining: %d", got)
	}
	res, err := newClient(t).PostForm(base+"/auth/login", url.Values{"username": {"drainer"}, "password": {"a long password"}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Errorf("login while draining: %v %v", res, err)
	}
	if err := srv.Cmd.Wait(); err != nil {
		t.Fatalf("exit after the drain: %v, want status 0", err)
	}
}
