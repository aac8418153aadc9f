package main

// The pages mode: how many requests a second one target answers, with -c
// requests in flight, measured one target after another in the same run so
// the rows can be compared as ratios on a shared machine.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// target is one row of the table.
type target struct {
	name    string
	url     string
	auth    bool // send the access cookie
	refresh bool // POST /auth/refresh, each worker rotating its own session
	login   bool // POST /auth/login with -username and -password: argon2id and a new session
}

// parseTargets reads -paths: "/path" (on -url), "http://127.0.0.1:port/path"
// (another loopback server, e.g. the notes service), "auth:" before either
// to send the access cookie, "refresh", or "login".
func parseTargets(base *url.URL, list string) ([]target, error) {
	var out []target
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		t := target{name: raw}
		if raw == "refresh" {
			t.refresh, t.url = true, base.JoinPath("/auth/refresh").String()
			out = append(out, t)
			continue
		}
		if raw == "login" {
			t.login, t.url = true, base.JoinPath("/auth/login").String()
			out = append(out, t)
			continue
		}
		rest, auth := strings.CutPrefix(raw, "auth:")
		t.auth = auth
		if strings.HasPrefix(rest, "/") {
			u := *base
			u.Path, u.RawQuery, _ = strings.Cut(rest, "?")
			t.url = u.String()
		} else {
			u, err := loopbackURL(rest)
			if err != nil {
				return nil, fmt.Errorf("-paths: %w", err)
			}
			parsed, _ := url.Parse(rest)
			u.Path = parsed.Path
			t.url = u.String()
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-paths: no targets")
	}
	return out, nil
}

type result struct {
	lat    []time.Duration
	status map[int]int
	errs   int64
	took   time.Duration
}

func pages(ctx context.Context, client *http.Client, opt options, cookie *http.Cookie, out io.Writer) error {
	fmt.Fprintf(out, "target %s, %d concurrent, %v per row in %d interleaved slices\n", opt.base, opt.workers, opt.duration, opt.rounds)
	var sessions chan *session
	for _, t := range opt.targets {
		if t.refresh && sessions == nil {
			var err error
			if sessions, err = loginSessions(ctx, client, opt); err != nil {
				return err
			}
		}
	}
	// The rows take turns in short slices, so a neighbour's load on a
	// shared machine falls on every row alike and the ratios hold.
	results := make([]result, len(opt.targets))
	slice := opt.duration / time.Duration(opt.rounds)
	for range opt.rounds {
		for i, t := range opt.targets {
			r, err := measure(ctx, client, opt, cookie, t, sessions, slice)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			results[i].lat = append(results[i].lat, r.lat...)
			results[i].took += r.took
			results[i].errs += r.errs
			if results[i].status == nil {
				results[i].status = map[int]int{}
			}
			for k, v := range r.status {
				results[i].status[k] += v
			}
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\treq/s\tp50\tp99\tratio\tstatuses\t")
	var first float64
	for i, t := range opt.targets {
		r := results[i]
		rate := float64(len(r.lat)) / r.took.Seconds()
		if i == 0 {
			first = rate
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%v\t%v\t%.3f\t%v\t\n", t.name, len(r.lat), rate,
			quantile(r.lat, 0.50).Round(10*time.Microsecond), quantile(r.lat, 0.99).Round(10*time.Microsecond), rate/first, r.status)
	}
	return tw.Flush()
}

// measure runs opt.workers loops against t for d; refresh targets take
// their sessions from sessions.
func measure(ctx context.Context, client *http.Client, opt options, cookie *http.Cookie, t target, sessions chan *session, d time.Duration) (result, error) {
	var (
		mu     sync.Mutex
		res    = result{status: map[int]int{}}
		errs   atomic.Int64
		wg     sync.WaitGroup
		failed error
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range opt.workers {
		wg.Go(func() {
			var refresh *session
			var lat []time.Duration
			statuses := map[int]int{}
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if t.refresh && (refresh == nil || refresh.uses == refreshesPerSession) {
					select {
					case refresh = <-sessions:
					default:
						mu.Lock()
						failed = fmt.Errorf("out of sessions after %v: raise -sessions", time.Since(start).Round(time.Millisecond))
						mu.Unlock()
						return
					}
				}
				if refresh != nil {
					refresh.uses++
				}
				method, body := http.MethodGet, io.Reader(nil)
				if t.refresh {
					method = http.MethodPost
				}
				if t.login {
					method = http.MethodPost
					body = strings.NewReader(url.Values{"username": {opt.username}, "password": {opt.password}}.Encode())
				}
				req, err := http.NewRequestWithContext(ctx, method, t.url, body)
				if err != nil {
					errs.Add(1)
					return
				}
				if t.login {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if t.auth {
					req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
				}
				if t.refresh {
					req.Header.Set("Accept", "application/json")
					req.AddCookie(&http.Cookie{Name: refresh.cookie.Name, Value: refresh.cookie.Value})
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				statuses[resp.StatusCode]++
				if t.refresh {
					for _, c := range resp.Cookies() {
						if strings.Contains(c.Name, "refresh_token") && c.Value != "" {
							refresh.cookie = c
						}
					}
				}
			}
			if refresh != nil && refresh.uses < refreshesPerSession {
				sessions <- refresh // its next slice goes on with it
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			for k, v := range statuses {
				res.status[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	res.errs = errs.Load()
	if failed != nil {
		return res, failed
	}
	if len(res.lat) == 0 {
		return res, fmt.Errorf("no answers (%d transport errors)", res.errs)
	}
	return res, nil
}

// session is one logged-in session of the refresh row: its refresh cookie
// and how often it was refreshed.
type session struct {
	cookie *http.Cookie
	uses   int
}

// refreshesPerSession stays under REFRESH_RATE_LIMIT's ceiling (60 a
// minute per session): the mode measures refreshes, not the limiter.
const refreshesPerSession = 50

// seededRefreshCookie is the refresh cookie's name on a development server
// (handlers.RefreshCookie; the program imports no server package).
const seededRefreshCookie = "tf_refresh_token"

// loginSessions logs in opt.sessions times, before the clock starts, and
// returns their refresh cookies; with -refresh-tokens, it returns the
// seeded sessions' tokens instead.
func loginSessions(ctx context.Context, client *http.Client, opt options) (chan *session, error) {
	if len(opt.refreshTokens) > 0 {
		sessions := make(chan *session, len(opt.refreshTokens))
		for _, tok := range opt.refreshTokens {
			sessions <- &session{cookie: &http.Cookie{Name: seededRefreshCookie, Value: tok}}
		}
		return sessions, nil
	}
	sessions := make(chan *session, opt.sessions)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	var next atomic.Int64
	for range min(opt.workers, 4) {
		wg.Go(func() {
			for next.Add(1) <= int64(opt.sessions) {
				c, err := loginRefreshCookie(ctx, client, opt)
				if err != nil {
					failed.Store(&err)
					return
				}
				sessions <- &session{cookie: c}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return nil, *err
	}
	return sessions, nil
}

// loginRefreshCookie logs in and returns the refresh cookie of the new session.
func loginRefreshCookie(ctx context.Context, client *http.Client, opt options) (*http.Cookie, error) {
	resp, err := postLogin(ctx, client, opt.base, opt.username, opt.password)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	for _, c := range resp.Cookies() {
		if strings.Contains(c.Name, "refresh_token") {
			return c, nil
		}
	}
	return nil, fmt.Errorf("logging in for a session: status %d, no refresh cookie", resp.StatusCode)
}
