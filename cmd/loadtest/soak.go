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
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
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
}

func parseSoakFlags(args []string) (soakOptions, error) {
	fs := flag.NewFlagSet("loadtest soak", flag.ContinueOnError)
	bin := fs.String("bin", "", "the tokenflow binary to run (go build -o /tmp/tokenflow .)")
	duration := fs.Duration("duration", 5*time.Minute, "how long to run (at most 1h)")
	restart := fs.Duration("restart-every", time.Minute, "SIGKILL and restart the server this often")
	clients := fs.Int("clients", 20, "concurrent browsers, each with its own account and session (at most 100)")
	pace := fs.Duration("pace", 1500*time.Millisecond, "pause between one client's refreshes (REFRESH_RATE_LIMIT is per minute)")
	if err := fs.Parse(args); err != nil {
		return soakOptions{}, err
	}
	switch {
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
	return soakOptions{bin: *bin, duration: *duration, restartEvery: *restart, clients: *clients, pace: *pace}, nil
}

// server is the tokenflow process under test, restarted in place.
type server struct {
	bin, dataDir, addr string
	mu                 sync.Mutex
	cmd                *exec.Cmd
}

func (s *server) start(ctx context.Context) error {
	cmd := exec.Command(s.bin)
	cmd.Env = append(os.Environ(),
		"ADDR="+s.addr, "DATA_DIR="+s.dataDir,
		"REGISTER_RATE_LIMIT=100000", "LOGIN_RATE_LIMIT=100000",
		"IP_FAILURE_LIMIT=100000", "LOGIN_FAILURE_LIMIT=100000", "REFRESH_RATE_LIMIT=60")
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
	dataDir, err := os.MkdirTemp("", "tokenflow-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	srv := &server{bin: opt.bin, dataDir: dataDir, addr: addr}
	if err := srv.start(ctx); err != nil {
		return err
	}
	defer srv.kill()
	base := &url.URL{Scheme: "http", Host: addr}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fmt.Fprintf(out, "soak: %s on %s, %d clients, %v, SIGKILL every %v\n", opt.bin, addr, opt.clients, opt.duration, opt.restartEvery)

	var l ledger
	runCtx, cancel := context.WithTimeout(ctx, opt.duration)
	defer cancel()

	// Samples of the server: RSS and open files, per process generation.
	var peakRSS, peakFDs atomic.Int64
	restarts := 0
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if pid := srv.pid(); pid > 0 {
				if _, rss, err := readMemory(pid); err == nil && rss > peakRSS.Load() {
					peakRSS.Store(rss)
				}
				if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil && int64(len(fds)) > peakFDs.Load() {
					peakFDs.Store(int64(len(fds)))
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
	fmt.Fprintf(out, "server peak VmRSS sampled %s, peak open files %d\n", mib(peakRSS.Load()), peakFDs.Load())
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
