// Command loadtest measures what a flood of failed logins does to a running
// tokenflow: how fast it answers them, whether logged-in pages stay quick
// while argon2id is busy, and how much memory the server takes at its peak.
//
// It starts nothing itself and only talks to loopback addresses. Run the app
// with limits high enough that throttling does not cut the flood short:
//
//	go build -o /tmp/tokenflow . && DATA_DIR=$(mktemp -d) ADDR=127.0.0.1:8080 \
//	  IP_FAILURE_LIMIT=100000 LOGIN_FAILURE_LIMIT=100000 LOGIN_RATE_LIMIT=100000 /tmp/tokenflow &
//	go run ./cmd/loadtest -url http://127.0.0.1:8080 -password "$(cat $DATA_DIR/demo-password)" -pid $!
//
// The flood uses a distinct unknown username per attempt, so no account lock
// applies; an unknown user still costs one full argon2id hash (VerifyDummy).
// With -good, each attempt is instead a successful login of the account
// (-username), which also writes a session (MAX_SESSIONS_PER_USER bounds them).
//
// -mode pages measures throughput instead: each target in -paths in turn,
// -c requests at a time for -d, one table row per target with its ratio to
// the first (see throughput.go and docs/PERFORMANCE.md).
//
// `loadtest soak -bin /tmp/tokenflow -duration 5m` is the crash test: it
// starts the binary itself, SIGKILLs and restarts it every -restart-every,
// and checks a client-side ledger (soak.go, docs/RELIABILITY.md). With
// -database-url and -instances 2 it runs two instances on PostgreSQL behind
// HAProxy and kills one at a time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	base     *url.URL
	username string
	password string
	attempts int
	workers  int
	pid      int
	timeout  time.Duration
	good     bool

	mode     string
	targets  []target
	duration time.Duration
	sessions int
	rounds   int
	// refreshTokens, when set, are the refresh row's sessions (seeded).
	refreshTokens []string
}

// Hard bounds: this is a measurement, not a stress weapon.
const (
	maxAttempts = 5000
	maxWorkers  = 500
	maxTimeout  = 5 * time.Minute
)

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	rawURL := fs.String("url", "http://127.0.0.1:8080", "base URL of a running tokenflow (loopback only)")
	username := fs.String("username", "demo", "an account that can log in, for the dashboard cookie")
	pw := fs.String("password", "", "its password (the demo password is in DATA_DIR/demo-password)")
	pwFile := fs.String("password-file", "", "read the password from this file instead")
	attempts := fs.Int("n", 200, "failed login attempts in the flood (at most 5000)")
	workers := fs.Int("c", 200, "concurrent attempts (at most 500)")
	pid := fs.Int("pid", 0, "server process id, to sample VmHWM/VmRSS from /proc (optional)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long (at most 5m)")
	good := fs.Bool("good", false, "flood with successful logins of -username instead of failed ones")
	mode := fs.String("mode", "flood", "flood (logins, /dashboard probed) or pages (throughput of -paths)")
	paths := fs.String("paths", "/,auth:/api/me", "pages mode: comma-separated paths or loopback URLs; auth: sends the access cookie, refresh rotates a session per worker, login logs -username in")
	duration := fs.Duration("d", 5*time.Second, "pages mode: how long each target is measured")
	rounds := fs.Int("rounds", 6, "pages mode: interleaved slices each row's -d is cut into (1..100)")
	sessions := fs.Int("sessions", 40, "pages mode, refresh: sessions logged in beforehand, each refreshed at most 50 times (at most 1000)")
	refreshTokens := fs.String("refresh-tokens", "", "pages mode, refresh: present these refresh tokens (one a line, from `loadtest seed -tokens-out`) instead of logging in -sessions times")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	u, err := loopbackURL(*rawURL)
	if err != nil {
		return options{}, err
	}
	if *pwFile != "" {
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return options{}, err
		}
		*pw = strings.TrimSpace(string(b))
	}
	if *pw == "" {
		return options{}, errors.New("-password or -password-file is required")
	}
	switch {
	case *attempts < 1 || *attempts > maxAttempts:
		return options{}, fmt.Errorf("-n %d: want 1..%d", *attempts, maxAttempts)
	case *workers < 1 || *workers > maxWorkers:
		return options{}, fmt.Errorf("-c %d: want 1..%d", *workers, maxWorkers)
	case *timeout <= 0 || *timeout > maxTimeout:
		return options{}, fmt.Errorf("-timeout %v: want up to %v", *timeout, maxTimeout)
	}
	opt := options{base: u, username: *username, password: *pw, attempts: *attempts,
		workers: *workers, pid: *pid, timeout: *timeout, good: *good, mode: *mode, duration: *duration}
	switch *mode {
	case "flood":
	case "pages":
		if opt.targets, err = parseTargets(u, *paths); err != nil {
			return options{}, err
		}
		if *sessions < 1 || *sessions > 1000 {
			return options{}, fmt.Errorf("-sessions %d: want 1..1000", *sessions)
		}
		opt.sessions = *sessions
		if *refreshTokens != "" {
			b, err := os.ReadFile(*refreshTokens)
			if err != nil {
				return options{}, err
			}
			opt.refreshTokens = strings.Fields(string(b))
			if len(opt.refreshTokens) == 0 {
				return options{}, fmt.Errorf("-refresh-tokens %s: no tokens", *refreshTokens)
			}
		}
		if *rounds < 1 || *rounds > 100 {
			return options{}, fmt.Errorf("-rounds %d: want 1..100", *rounds)
		}
		opt.rounds = *rounds
		if *duration <= 0 || *duration > time.Minute {
			return options{}, fmt.Errorf("-d %v: want up to 1m", *duration)
		}
	default:
		return options{}, fmt.Errorf("-mode %q: want flood or pages", *mode)
	}
	return opt, nil
}

// loopbackURL accepts http(s) URLs whose host is 127.0.0.1, localhost or ::1.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url %q: want http or https", raw)
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
	default:
		return nil, fmt.Errorf("-url %q: only 127.0.0.1, localhost or ::1 may be targeted", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("-url %q: no user info", raw)
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "soak" {
		return runSoak(ctx, args[1:], out)
	}
	if len(args) > 0 && args[0] == "seed" {
		return runSeed(ctx, args[1:], out)
	}
	if len(args) > 0 && args[0] == "dbstat" {
		return runDBStat(ctx, args[1:], out)
	}
	opt, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, opt.timeout)
	defer cancel()

	client := &http.Client{
		Timeout: 60 * time.Second,
		// Loopback resolution only, whatever the resolver says about "localhost".
		Transport: &http.Transport{
			MaxIdleConnsPerHost: maxWorkers,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if host == "localhost" {
					host = "127.0.0.1"
				}
				if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
					return nil, fmt.Errorf("refusing to dial %s", addr)
				}
				return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(host, port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	cookie, err := loginCookie(ctx, client, opt)
	if err != nil {
		return err
	}
	if opt.mode == "pages" {
		return pages(ctx, client, opt, cookie, out)
	}
	rss := startRSSSampler(ctx, opt.pid)
	fmt.Fprintf(out, "target %s, server pid %d\n", opt.base, opt.pid)
	if opt.pid > 0 {
		hwm, cur, _ := readMemory(opt.pid)
		fmt.Fprintf(out, "server memory before: VmRSS %s, VmHWM %s\n", mib(cur), mib(hwm))
	}

	// Baseline: /dashboard alone.
	base, err := probe(ctx, client, opt.base, cookie, nil, 100)
	if err != nil {
		return err
	}
	report(out, "/dashboard, idle", base)

	// The flood, with /dashboard probed throughout.
	done := make(chan struct{})
	var probed []time.Duration
	var probeErr error
	var wg sync.WaitGroup
	wg.Go(func() { probed, probeErr = probe(ctx, client, opt.base, cookie, done, 0) })
	start := time.Now()
	statuses, errs := flood(ctx, client, opt)
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	if probeErr != nil {
		return probeErr
	}
	rate := float64(opt.attempts) / elapsed.Seconds()
	kind := "failed"
	if opt.good {
		kind = "successful"
	}
	fmt.Fprintf(out, "flood: %d %s logins, %d concurrent, in %v: %.1f logins/s; statuses %v, transport errors %d\n",
		opt.attempts, kind, opt.workers, elapsed.Round(time.Millisecond), rate, statuses, errs)
	report(out, "/dashboard, during the flood", probed)
	if opt.pid > 0 {
		peakRSS := rss()
		hwm, cur, _ := readMemory(opt.pid)
		fmt.Fprintf(out, "server memory: peak VmRSS sampled %s, VmHWM %s, VmRSS now %s\n", mib(peakRSS), mib(hwm), mib(cur))
	}
	return ctx.Err()
}

// loginCookie logs in and returns the access cookie for /dashboard.
func loginCookie(ctx context.Context, client *http.Client, opt options) (*http.Cookie, error) {
	resp, err := postLogin(ctx, client, opt.base, opt.username, opt.password)
	if err != nil {
		return nil, fmt.Errorf("logging in as %s: %w", opt.username, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("logging in as %s: status %d (wrong password, or throttled?)", opt.username, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if strings.Contains(c.Name, "access_token") {
			return c, nil
		}
	}
	return nil, errors.New("logging in: no access cookie in the answer")
}

func postLogin(ctx context.Context, client *http.Client, base *url.URL, username, pw string) (*http.Response, error) {
	form := url.Values{"username": {username}, "password": {pw}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath("/auth/login").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return client.Do(req)
}

// flood sends opt.attempts failed logins, opt.workers at a time, each with
// its own unknown username.
func flood(ctx context.Context, client *http.Client, opt options) (map[int]int, int) {
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		errs     atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	for range opt.workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(opt.attempts) || ctx.Err() != nil {
					return
				}
				username, pw := fmt.Sprintf("load-%s-%d", run, i), "not-the-password"
				if opt.good {
					username, pw = opt.username, opt.password
				}
				resp, err := postLogin(ctx, client, opt.base, username, pw)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return statuses, int(errs.Load())
}

// probe GETs /dashboard one request at a time: n times, or until done closes.
func probe(ctx context.Context, client *http.Client, base *url.URL, cookie *http.Cookie, done <-chan struct{}, n int) ([]time.Duration, error) {
	var lat []time.Duration
	for i := 0; n == 0 || i < n; i++ {
		select {
		case <-done:
			return lat, nil
		case <-ctx.Done():
			return lat, ctx.Err()
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("/dashboard").String(), nil)
		if err != nil {
			return nil, err
		}
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET /dashboard: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /dashboard: status %d (the access token expired? rerun)", resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

func report(out io.Writer, what string, lat []time.Duration) {
	if len(lat) == 0 {
		fmt.Fprintf(out, "%s: no samples\n", what)
		return
	}
	fmt.Fprintf(out, "%s: %d requests, p50 %v, p99 %v, max %v\n", what, len(lat),
		quantile(lat, 0.50).Round(10*time.Microsecond), quantile(lat, 0.99).Round(10*time.Microsecond), quantile(lat, 1).Round(10*time.Microsecond))
}

// quantile returns the p-quantile of lat (nearest rank); 0 when empty.
func quantile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// startRSSSampler polls VmRSS every 20 ms and returns a function giving the
// highest value seen (VmHWM from the kernel is the authoritative peak).
func startRSSSampler(ctx context.Context, pid int) func() int64 {
	var peak atomic.Int64
	if pid <= 0 {
		return peak.Load
	}
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if _, cur, err := readMemory(pid); err == nil && cur > peak.Load() {
				peak.Store(cur)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return peak.Load
}

// readMemory returns VmHWM and VmRSS of pid in KiB.
func readMemory(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, _ := strconv.ParseInt(fields[0], 10, 64)
		switch name {
		case "VmHWM":
			hwm = v
		case "VmRSS":
			rss = v
		}
	}
	return hwm, rss, nil
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
