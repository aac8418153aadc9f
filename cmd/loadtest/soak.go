package main

// `loadtest soak`: mixed load against the real binary for a while, with
// SIGKILL and a restart at a fixed interval, and a client-side ledger that
// proves the two promises a crash must not break:
//
//   - no answered rotation is lost: a refresh token the server handed out
//     (a 200 the client received) works after any number of crashes;
//   - no session ends that its client did not end: no refresh answers 401
//     unless the client logged out.
//
// A request cut by the kill has no answer; the client presents the same
// token again once the server is back. Whether or not the cut rotation had
// committed, that must work: not committed, the token is still current;
// committed, it is a replay inside REFRESH_REUSE_GRACE (10 s by default,
// longer than a restart), which gets a fresh token. So an unanswered
// request is never a violation, and a 401 always is.
//
// Unlike the flood, soak starts the server itself: a private data folder,
// a free loopback port.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type soakOptions struct {
	bin          string
	duration     time.Duration
	restartEvery time.Duration
	clients      int
	pace         time.Duration
	// PostgreSQL, several instances behind HAProxy: empty and 1 is the
	// single SQLite process.
	databaseURL   string
	instances     int
	haproxy       string
	haproxyConfig string
	sampleEvery   time.Duration
}

func parseSoakFlags(args []string) (soakOptions, error) {
	fs := flag.NewFlagSet("loadtest soak", flag.ContinueOnError)
	bin := fs.String("bin", "", "the tokenflow binary to run (go build -o /tmp/tokenflow .)")
	duration := fs.Duration("duration", 5*time.Minute, "how long to run (at most 1h)")
	restart := fs.Duration("restart-every", time.Minute, "SIGKILL and restart the server this often")
	clients := fs.Int("clients", 20, "concurrent browsers, each with its own account and session (at most 100)")
	pace := fs.Duration("pace", 1500*time.Millisecond, "pause between one client's refreshes (REFRESH_RATE_LIMIT is per minute)")
	databaseURL := fs.String("database-url", "", "run on this PostgreSQL database instead of SQLite (an empty database of the run's own)")
	instances := fs.Int("instances", 1, "tokenflow instances; 2 needs -database-url and runs them behind HAProxy, killing one at a time")
	haproxy := fs.String("haproxy", "", "the haproxy binary for -instances 2 (default: haproxy from PATH)")
	haproxyConfig := fs.String("haproxy-config", "deploy/haproxy/haproxy.cfg", "the HAProxy configuration for -instances 2")
	sampleEvery := fs.Duration("sample-every", time.Second, "sample each instance's RSS and open files this often")
	if err := fs.Parse(args); err != nil {
		return soakOptions{}, err
	}
	switch {
	case *instances < 1 || *instances > 2:
		return soakOptions{}, errors.New("soak: -instances must be 1 or 2")
	case *instances == 2 && *databaseURL == "":
		return soakOptions{}, errors.New("soak: -instances 2 needs -database-url (SQLite is one process's file)")
	case *sampleEvery < 100*time.Millisecond || *sampleEvery > time.Minute:
		return soakOptions{}, errors.New("soak: -sample-every must be in [100ms, 1m]")
	case *bin == "":
		return soakOptions{}, errors.New("soak: -bin is required")
	case *duration <= 0 || *duration > time.Hour:
		return soakOptions{}, errors.New("soak: -duration must be in (0, 1h]")
	case *restart < 5*time.Second:
		return soakOptions{}, errors.New("soak: -restart-every must be at least 5s")
	case *clients < 1 || *clients > 100:
		return soakOptions{}, errors.New("soak: -clients must be in [1, 100]")
	case *pace < 100*time.Millisecond:
		return soakOptions{}, errors.New("soak: -pace must be at least 100ms")
	}
	opt := soakOptions{bin: *bin, duration: *duration, restartEvery: *restart, clients: *clients, pace: *pace,
		databaseURL: *databaseURL, instances: *instances, haproxyConfig: *haproxyConfig, sampleEvery: *sampleEvery}
	if opt.instances == 2 {
		opt.haproxy = *haproxy
		if opt.haproxy == "" {
			path, err := exec.LookPath("haproxy")
			if err != nil {
				return soakOptions{}, errors.New("soak: -instances 2 needs haproxy: none in PATH, give -haproxy")
			}
			opt.haproxy = path
		}
	}
	return opt, nil
}

// server is the tokenflow process under test, restarted in place.
type server struct {
	bin, dataDir, addr string
	env                []string // what the instances share (store, key, proxy)
	mu                 sync.Mutex
	cmd                *exec.Cmd
}

func (s *server) start(ctx context.Context) error {
	cmd := exec.Command(s.bin)
	cmd.Env = append(os.Environ(),
		"ADDR="+s.addr, "DATA_DIR="+s.dataDir,
		"REGISTER_RATE_LIMIT=100000", "LOGIN_RATE_LIMIT=100000",
		"IP_FAILURE_LIMIT=100000", "LOGIN_FAILURE_LIMIT=100000", "REFRESH_RATE_LIMIT=60")
	cmd.Env = append(cmd.Env, s.env...)
	if err := cmd.Start(); err != nil {
		return err
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("soak: the server did not come up within 30s")
}

func (s *server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// ledger is what the clients saw, summed.
type ledger struct {
	answered, refused, unanswered, limited, logins, reads atomic.Int64
	violations                                            atomic.Int64
	mu                                                    sync.Mutex
	notes                                                 []string
}

func (l *ledger) violation(format string, args ...any) {
	l.violations.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.notes) < 20 {
		l.notes = append(l.notes, fmt.Sprintf(format, args...))
	}
}

// cut counts a request without an answer: refused (the server was down,
// nothing was sent) or cut (sent; it may or may not have committed).
func (l *ledger) cut(ctx context.Context, err error) {
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, syscall.ECONNREFUSED):
		l.refused.Add(1)
	default:
		l.unanswered.Add(1)
	}
}

func runSoak(ctx context.Context, args []string, out io.Writer) error {
	opt, err := parseSoakFlags(args)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "tokenflow-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	var shared []string
	if opt.databaseURL != "" {
		// What must be the same on every instance for a token of one to be
		// good at the other (deploy/haproxy_test.go): the store and the key
		// that seals the signing keys.
		shared = []string{"DATABASE_URL=" + opt.databaseURL, "KEY_ENCRYPTION_KEY=" + randomKEK(), "TRUSTED_PROXIES=127.0.0.1"}
	}
	srvs := make([]*server, opt.instances)
	for i := range srvs {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return err
		}
		srvs[i] = &server{bin: opt.bin, dataDir: filepath.Join(root, fmt.Sprintf("app%d", i+1)), addr: addr, env: shared}
		if err := os.Mkdir(srvs[i].dataDir, 0o700); err != nil {
			return err
		}
		// One at a time: the first creates the schema.
		if err := srvs[i].start(ctx); err != nil {
			return err
		}
		defer srvs[i].kill()
	}
	front := srvs[0].addr
	if opt.instances == 2 {
		lb, stop, err := startHAProxy(ctx, opt.haproxy, opt.haproxyConfig, srvs[0].addr, srvs[1].addr)
		if err != nil {
			return err
		}
		defer stop()
		front = lb
	}
	base := &url.URL{Scheme: "http", Host: front}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	store := "SQLite"
	if opt.databaseURL != "" {
		store = "PostgreSQL"
	}
	fmt.Fprintf(out, "soak: %s x%d on %s via %s, %d clients, %v, SIGKILL every %v (one instance at a time)\n",
		opt.bin, opt.instances, store, front, opt.clients, opt.duration, opt.restartEvery)

	var l ledger
	runCtx, cancel := context.WithTimeout(ctx, opt.duration)
	defer cancel()

	// Samples of each instance: RSS and open files over time.
	series := make([][]sample, len(srvs))
	var seriesMu sync.Mutex
	started := time.Now()
	restarts := 0
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(opt.sampleEvery)
		defer t.Stop()
		for {
			for i, srv := range srvs {
				if pid := srv.pid(); pid > 0 {
					_, rss, err1 := readMemory(pid)
					fds, err2 := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
					if err1 == nil && err2 == nil {
						seriesMu.Lock()
						series[i] = append(series[i], sample{at: time.Since(started), pid: pid, rssKiB: rss, fds: len(fds)})
						seriesMu.Unlock()
					}
				}
			}
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
		}
	})

	for i := range opt.clients {
		wg.Go(func() { soakClient(runCtx, client, base, fmt.Sprintf("soak%d", i), opt.pace, &l) })
	}

	killer := time.NewTicker(opt.restartEvery)
	defer killer.Stop()
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-killer.C:
			srv := srvs[restarts%len(srvs)]
			srv.kill()
			restarts++
			if err := srv.start(ctx); err != nil {
				cancel()
				wg.Wait()
				return err
			}
		}
	}
	wg.Wait()

	fmt.Fprintf(out, "restarts (SIGKILL): %d\n", restarts)
	fmt.Fprintf(out, "refreshes answered: %d; requests refused while down: %d, cut by a kill: %d (both retried); rate limited: %d; logins %d, /api/me reads %d\n",
		l.answered.Load(), l.refused.Load(), l.unanswered.Load(), l.limited.Load(), l.logins.Load(), l.reads.Load())
	for i, s := range series {
		writeSeries(out, fmt.Sprintf("app%d", i+1), s, soakWarmUp)
	}
	fmt.Fprintf(out, "violations: %d\n", l.violations.Load())
	for _, n := range l.notes {
		fmt.Fprintln(out, "  "+n)
	}
	if l.violations.Load() > 0 {
		return fmt.Errorf("soak: %d violations", l.violations.Load())
	}
	if l.answered.Load() == 0 {
		return errors.New("soak: no refresh was answered: the run proved nothing")
	}
	return nil
}

func randomKEK() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// startHAProxy runs haproxy in the foreground on config with the two
// instances, and waits until it answers /readyz.
func startHAProxy(ctx context.Context, bin, config, app1, app2 string) (string, func(), error) {
	conf, err := filepath.Abs(config)
	if err != nil {
		return "", nil, err
	}
	listen, err := freeLoopbackAddr()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-db", "-f", conf)
	cmd.Env = append(os.Environ(), "TOKENFLOW_LB_LISTEN="+listen, "TOKENFLOW_APP1="+app1, "TOKENFLOW_APP2="+app2)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if res, err := http.Get("http://" + listen + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return listen, stop, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("soak: haproxy did not answer /readyz within 20s")
}

// sample is one look at an instance.
type sample struct {
	at     time.Duration
	pid    int
	rssKiB int64
	fds    int
}

// soakWarmUp is how long after a (re)start an instance's samples are left
// out of the verdict: caches, pools and the heap grow to their working size.
const soakWarmUp = 10 * time.Second

// flatVerdict compares, over the samples past warm-up (per process
// generation), the mean of the last quarter with the mean of the first
// quarter: within 10 % is flat. A report, not an assertion.
func flatVerdict(s []sample, warmUp time.Duration, value func(sample) float64) (first, last float64, flat, enough bool) {
	var kept []float64
	born := map[int]time.Duration{}
	for _, x := range s {
		if _, ok := born[x.pid]; !ok {
			born[x.pid] = x.at
		}
		if x.at-born[x.pid] >= warmUp {
			kept = append(kept, value(x))
		}
	}
	if len(kept) < 8 {
		return 0, 0, false, false
	}
	q := len(kept) / 4
	mean := func(v []float64) float64 {
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		return sum / float64(len(v))
	}
	first, last = mean(kept[:q]), mean(kept[len(kept)-q:])
	return first, last, last <= first*1.1 && last >= first*0.9, true
}

func writeSeries(out io.Writer, name string, s []sample, warmUp time.Duration) {
	if len(s) == 0 {
		fmt.Fprintf(out, "%s: no samples\n", name)
		return
	}
	var peakRSS int64
	peakFDs := 0
	var b strings.Builder
	step := max(1, len(s)/12) // about a dozen points per line
	for i, x := range s {
		peakRSS = max(peakRSS, x.rssKiB)
		peakFDs = max(peakFDs, x.fds)
		if i%step == 0 {
			fmt.Fprintf(&b, " %ds:%.1fMiB/%dfd", int(x.at.Seconds()), float64(x.rssKiB)/1024, x.fds)
		}
	}
	fmt.Fprintf(out, "%s: %d samples, peak VmRSS %s, peak open files %d\n  series (t:RSS/fds):%s\n", name, len(s), mib(peakRSS), peakFDs, b.String())
	for _, m := range []struct {
		what  string
		value func(sample) float64
	}{
		{"RSS", func(x sample) float64 { return float64(x.rssKiB) / 1024 }},
		{"open files", func(x sample) float64 { return float64(x.fds) }},
	} {
		first, last, flat, enough := flatVerdict(s, warmUp, m.value)
		switch {
		case !enough:
			fmt.Fprintf(out, "  %s: too few samples past the %v warm-up for a verdict\n", m.what, warmUp)
		case flat:
			fmt.Fprintf(out, "  %s flat within 10%% after warm-up: first quarter %.1f, last quarter %.1f\n", m.what, first, last)
		case last < first:
			// Not flat, but no leak either: a fall is what a restart or a
			// collected heap looks like.
			fmt.Fprintf(out, "  %s NOT flat within 10%% after warm-up, it fell (no growth): first quarter %.1f, last quarter %.1f\n", m.what, first, last)
		default:
			fmt.Fprintf(out, "  %s NOT flat within 10%% after warm-up, it GREW: first quarter %.1f, last quarter %.1f\n", m.what, first, last)
		}
	}
}

// soakClient is one browser: it registers, then refreshes at its pace and
// reads /api/me, keeping the newest refresh token it was given (its
// ledger), and at the end logs out and checks the session is over.
func soakClient(ctx context.Context, client *http.Client, base *url.URL, name string, pace time.Duration, l *ledger) {
	const pw = "soak test password, long enough"
	var refresh, access string
	for refresh == "" {
		res, err := postForm(ctx, client, base, "/auth/register", url.Values{"username": {name}, "password": {pw}, "password_confirm": {pw}}, "")
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // the server is restarting
			continue
		}
		if res.StatusCode == http.StatusUnprocessableEntity { // registered before a kill cut the answer
			res, err = postForm(ctx, client, base, "/auth/login", url.Values{"username": {name}, "password": {pw}}, "")
			if err != nil {
				continue
			}
			l.logins.Add(1)
		}
		refresh, access = tokensFrom(res, refresh, access)
	}
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			logoutAndCheck(client, base, name, refresh, l)
			return
		case <-time.After(pace):
		}
		if i%10 == 0 {
			// A login now and then (an argon2id hash: a long request for a
			// kill to cut). The client moves to the new session and never
			// presents the old one again.
			res, err := postForm(ctx, client, base, "/auth/login", url.Values{"username": {name}, "password": {pw}}, "")
			switch {
			case err != nil:
				l.cut(ctx, err)
			case res.StatusCode == http.StatusSeeOther:
				l.logins.Add(1)
				refresh, access = tokensFrom(res, refresh, access)
			default:
				l.violation("%s: login answered %d", name, res.StatusCode)
			}
			continue
		}
		res, err := postForm(ctx, client, base, "/auth/refresh", nil, refresh)
		switch {
		case err != nil:
			l.cut(ctx, err) // same token next time
		case res.StatusCode == http.StatusOK:
			l.answered.Add(1)
			refresh, access = tokensFrom(res, refresh, access)
		case res.StatusCode == http.StatusTooManyRequests:
			l.limited.Add(1)
		case res.StatusCode == http.StatusUnauthorized:
			l.violation("%s: refresh answered 401 though the client never ended its session", name)
			res, err = postForm(ctx, client, base, "/auth/login", url.Values{"username": {name}, "password": {pw}}, "")
			if err == nil && res.StatusCode == http.StatusSeeOther {
				l.logins.Add(1)
				refresh, access = tokensFrom(res, refresh, access)
			}
		default:
			l.violation("%s: refresh answered %d", name, res.StatusCode)
		}
		if access != "" {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("/api/me").String(), nil)
			req.Header.Set("Authorization", "Bearer "+access)
			if res, err := client.Do(req); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					l.reads.Add(1)
				}
			}
		}
	}
}

// logoutAndCheck ends the session the client holds; afterwards its refresh
// must fail (the client ended it, so now a 401 is right). It refreshes
// first: the run's end (or a kill) may have cut the last refresh after it
// committed, leaving the client with the token it replaced, and logout
// with a rotated token rightly ends nothing (a replayed old token must not
// end its owner's session). The refresh, inside the grace window, brings
// the ledger back to a current token.
func logoutAndCheck(client *http.Client, base *url.URL, name, refresh string, l *ledger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		res, err := postForm(ctx, client, base, "/auth/refresh", nil, refresh)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if res.StatusCode == http.StatusTooManyRequests {
			time.Sleep(time.Second)
			continue
		}
		if res.StatusCode != http.StatusOK {
			l.violation("%s: the last refresh answered %d", name, res.StatusCode)
			return
		}
		refresh, _ = tokensFrom(res, refresh, "")
		break
	}
	for ctx.Err() == nil {
		res, err := postForm(ctx, client, base, "/auth/logout", nil, refresh)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if res.StatusCode != http.StatusSeeOther {
			l.violation("%s: logout answered %d", name, res.StatusCode)
			return
		}
		break
	}
	res, err := postForm(ctx, client, base, "/auth/refresh", nil, refresh)
	if err == nil && res.StatusCode != http.StatusUnauthorized {
		l.violation("%s: refresh after logout answered %d, want 401", name, res.StatusCode)
	}
}

// postForm posts form (nil: none) with the refresh cookie if given, reads
// the body and returns the response.
func postForm(ctx context.Context, client *http.Client, base *url.URL, path string, form url.Values, refresh string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath(path).String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if refresh != "" {
		req.AddCookie(&http.Cookie{Name: "tf_refresh_token", Value: refresh})
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err // cut mid-body: no answer
	}
	return res, nil
}

// tokensFrom takes the tokens a response set, keeping the old ones it did not.
func tokensFrom(res *http.Response, refresh, access string) (string, string) {
	for _, c := range res.Cookies() {
		switch {
		case strings.Contains(c.Name, "refresh_token") && c.Value != "":
			refresh = c.Value
		case strings.Contains(c.Name, "access_token") && c.Value != "":
			access = c.Value
		}
	}
	return refresh, access
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
