package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"tokenflow/app"
	"tokenflow/internal/testkit"
)

// Lifetimes the server runs with. The server's clock (server.clock) is moved
// forward past them when a test needs a token expired or a rotated token
// out of its grace window, so no test sleeps through either; the lifetimes
// are long enough that nothing expires on its own while a test runs.
const (
	accessTTL  = time.Minute
	reuseGrace = 10 * time.Second

	// waitTimeout bounds every wait for a page, an element or an attribute.
	waitTimeout = 5 * time.Second
	// browserTimeout bounds one browser's whole life, so a hang fails the
	// test instead of the suite.
	browserTimeout = 30 * time.Second
)

// Cookie names (handlers.AccessCookie, handlers.RefreshCookie). Spelled out
// here: the browser tests check the public contract, not the Go constants.
const (
	accessCookie  = "tf_access_token"
	refreshCookie = "tf_refresh_token"
)

const testPassword = "correct horse battery"

// server is one tokenflow started with app.RunWith for one test.
type server struct {
	URL      string
	logs     *testkit.SyncBuffer
	chromium string            // the browser every test of this package drives
	clock    *testkit.Clock    // the server's: it jumps when a test advances it; the browser and every timeout keep real time
	env      map[string]string // the settings it runs with
}

// startServer runs the real app on 127.0.0.1:0 with a fresh data folder and
// short lifetimes; settings, if given, override some of them. Cleanup
// cancels its context and waits for Run to return. Every test here needs a
// browser, so it first finds Chromium (or skips).
func startServer(t *testing.T, settings ...map[string]string) *server {
	t.Helper()
	return startWith(t, app.RunWith, settings...)
}

// startStack is startServer for `tokenflow stack`: the auth server, the
// notes service and the gateway on their own loopback listeners, one test
// clock for all three (so an expired token is expired at the verifiers
// too). URL is the gateway's, the one a browser opens.
func startStack(t *testing.T, settings ...map[string]string) *server {
	t.Helper()
	return startWith(t, app.RunStackWith, settings...)
}

// runFunc is app.RunWith or app.RunStackWith.
type runFunc func(ctx context.Context, opts app.Options, getenv func(string) string, stdout, stderr io.Writer, ready func(string)) error

func startWith(t *testing.T, run runFunc, settings ...map[string]string) *server {
	t.Helper()
	browser := chromium(t)
	env := map[string]string{
		"ADDR":                "127.0.0.1:0",
		"DATA_DIR":            t.TempDir(),
		"ACCESS_TOKEN_TTL":    accessTTL.String(),
		"ACCESS_TOKEN_LEEWAY": "0s",
		"REFRESH_TOKEN_TTL":   "1h",
		"SESSION_MAX_AGE":     "2h",
		"REFRESH_REUSE_GRACE": reuseGrace.String(),
	}
	for _, set := range settings {
		maps.Copy(env, set)
	}
	logs := &testkit.SyncBuffer{}
	clock := testkit.WallClock()
	testkit.LogOnFailure(t, "server log", logs)
	started := testkit.Start(t, "app.Run", func(ctx context.Context, ready func(string)) error {
		return run(ctx, app.Options{Now: clock.Now}, func(k string) string { return env[k] }, logs, logs, ready)
	})
	return &server{URL: started.URL, logs: logs, chromium: browser, clock: clock, env: env}
}

// noRedirects is an HTTP client for the test's own requests to the server
// (outside any browser): it shows redirects instead of following them.
var noRedirects = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// createUser registers an account with a plain form post from Go, then
// logs that session out, so a test starts with an account and no session.
func (s *server) createUser(t *testing.T, username string) {
	t.Helper()
	form := url.Values{"username": {username}, "password": {testPassword}, "password_confirm": {testPassword}}
	res, err := noRedirects.PostForm(s.URL+"/auth/register", form)
	if err != nil {
		t.Fatalf("registering %s: %v", username, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("registering %s: status %d, want 303", username, res.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/logout", nil)
	for _, c := range res.Cookies() {
		req.AddCookie(c)
	}
	res, err = noRedirects.Do(req)
	if err != nil {
		t.Fatalf("logging %s out after registering: %v", username, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logging %s out after registering: status %d, want 303", username, res.StatusCode)
	}
}

// status is the status of a plain GET (redirects not followed).
func (s *server) status(t *testing.T, path string) int {
	t.Helper()
	res, err := noRedirects.Get(s.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// refreshOutsideBrowser presents a refresh token the way any HTTP client
// could, and returns the status.
func (s *server) refreshOutsideBrowser(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/refresh", nil)
	req.Header.Set("Accept", "application/json")
	req.AddCookie(&http.Cookie{Name: refreshCookie, Value: token})
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("POST /auth/refresh: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// expireAccess moves the server's clock past the access token's exp, then
// checks that the server now refuses the token.
func (s *server) expireAccess(t *testing.T, token string) {
	t.Helper()
	exp, ok := expiry(token)
	if !ok {
		t.Fatal("the access token has no readable exp claim")
	}
	s.clock.Advance(exp.Sub(s.clock.Now()) + time.Second)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("GET /api/me: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/me with the token past its expiry: %d, want 401", res.StatusCode)
	}
}

// expiry reads the exp claim of a JWT without verifying it.
func expiry(jwt string) (time.Time, bool) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}

// chromium finds the browser, or skips (fails with CI=true) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	path, ok := findChromium()
	if !ok {
		testkit.Missing(t, chromiumMissing)
	}
	return path
}

// tab is one browser tab (a chromedp context) on the test's server.
type tab struct {
	t   *testing.T
	ctx context.Context
	srv *server
}

// newBrowser starts a fresh headless Chromium (own profile folder, so its
// own cookie jar) and returns its first tab. Cleanup closes the browser.
func newBrowser(t *testing.T, srv *server) *tab {
	t.Helper()
	path := srv.chromium
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	}
	base, cancelBase := context.WithTimeout(context.Background(), browserTimeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelBase()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return &tab{t: t, ctx: ctx, srv: srv}
}

// newTab opens another tab of the same browser: same cookies, same
// BroadcastChannel and Web Locks scope.
func (b *tab) newTab() *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("opening a tab: %v", err)
	}
	return &tab{t: b.t, ctx: ctx, srv: b.srv}
}

// newSeparateProfile opens a tab in a new browser context of the same
// browser: an incognito-like profile with its own cookie jar, as a second
// device would have.
func (b *tab) newSeparateProfile() *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("opening a separate browser context: %v", err)
	}
	return &tab{t: b.t, ctx: ctx, srv: b.srv}
}

// do runs actions and fails the test on error.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (page: %s)", what, err, b.where())
	}
}

// open navigates to a path of the server and waits for the load event.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.srv.URL+path))
}

// click clicks the first element matching the CSS selector.
func (b *tab) click(sel string) {
	b.t.Helper()
	b.do("clicking "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// fill sets form fields by element id.
func (b *tab) fill(fields map[string]string) {
	b.t.Helper()
	for id, v := range fields {
		b.do("filling #"+id, chromedp.SetValue(chromedp.ID(id), v))
	}
}

// evalJS evaluates an expression in the page; promises are awaited.
func evalJS[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v (page: %s)", expr, err, b.where())
	}
	return v
}

// text is the trimmed textContent of the first element matching sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return evalJS[string](b, fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").trim()`, sel))
}

// where is the page's URL, for failure messages (best effort).
func (b *tab) where() string {
	ctx, cancel := context.WithTimeout(b.ctx, time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown: " + err.Error()
	}
	return loc
}

// pageState is what waitPage looks at.
type pageState struct {
	Path     string `json:"path"`
	Search   string `json:"search"`
	Ready    string `json:"ready"`
	HasMatch bool   `json:"hasMatch"`
}

// waitPage waits until the tab shows path (query ignored), has finished
// loading, and has an element matching sel. It polls, because the page may
// pass through redirects, the interstitial and script navigations on the
// way; errors while a document is being replaced are expected and retried.
// It returns the query string of the page it found.
func (b *tab) waitPage(path, sel string) string {
	b.t.Helper()
	expr := fmt.Sprintf(`({path: location.pathname, search: location.search, ready: document.readyState, hasMatch: !!document.querySelector(%q)})`, sel)
	deadline := time.Now().Add(waitTimeout)
	var last pageState
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](expr))
		cancel()
		if err == nil {
			last, lastErr = st, nil
			if st.Path == path && st.Ready == "complete" && st.HasMatch {
				return st.Search
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %v for %s with %s; last seen: path %q%s, readyState %q, match %v, error %v",
				waitTimeout, path, sel, last.Path, last.Search, last.Ready, last.HasMatch, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAttr waits until the first element matching sel has the attribute,
// and returns its value.
func (b *tab) waitAttr(sel, attr string) string {
	b.t.Helper()
	expr := fmt.Sprintf(`document.querySelector(%q)?.getAttribute(%q) ?? null`, sel, attr)
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[*string](expr))
		cancel()
		if err == nil && v != nil {
			return *v
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %v for %s[%s] (last error %v, page %s)", waitTimeout, sel, attr, err, b.where())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// register creates an account through the registration form and waits for
// the dashboard.
func (b *tab) register(username string) {
	b.t.Helper()
	b.open("/auth/register")
	b.fill(map[string]string{"username": username, "password": testPassword, "password_confirm": testPassword})
	b.click(`form[data-testid="register-form"] button[type="submit"]`)
	b.waitPage("/dashboard", `[data-testid="username"]`)
}

// login fills and submits the login form that the tab shows.
func (b *tab) login(username string) {
	b.t.Helper()
	b.waitPage("/auth/login", `form[data-testid="login-form"]`)
	b.fill(map[string]string{"username": username, "password": testPassword})
	b.click(`form[data-testid="login-form"] button[type="submit"]`)
}

// waitLoginFor waits for the login form and checks that it will continue
// to next; how says what led there.
func (b *tab) waitLoginFor(next, how string) {
	b.t.Helper()
	search := b.waitPage("/auth/login", `form[data-testid="login-form"]`)
	if q, _ := url.ParseQuery(strings.TrimPrefix(search, "?")); q.Get("next") != next {
		b.t.Errorf("%s went to the login page with query %q, want next=%s", how, search, next)
	}
}

// logInToDashboard opens the login page, logs in, and waits for the
// dashboard.
func (b *tab) logInToDashboard(username string) {
	b.t.Helper()
	b.open("/auth/login")
	b.login(username)
	b.waitPage("/dashboard", `[data-testid="username"]`)
}

// cookie returns the browser's cookie of that name for the server, read
// through DevTools (page scripts cannot see HttpOnly cookies), or nil.
func (b *tab) cookie(name string) *network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	// The refresh cookie has Path=/auth, so ask for a URL under /auth.
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.srv.URL + "/auth/refresh"}})
	if err != nil {
		b.t.Fatalf("reading cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// cookieValue is the value of a cookie that must be there.
func (b *tab) cookieValue(name string) string {
	b.t.Helper()
	c := b.cookie(name)
	if c == nil {
		b.t.Fatalf("the browser has no %s cookie", name)
	}
	return c.Value
}

// setRefreshCookie writes the refresh cookie through DevTools, with the
// attributes the server gives it.
func (b *tab) setRefreshCookie(value string) {
	b.t.Helper()
	b.setCookie("the refresh cookie", refreshCookie, value, "/auth", network.CookieSameSiteStrict)
}

// setAccessCookie writes the access cookie through DevTools.
func (b *tab) setAccessCookie(value string) {
	b.t.Helper()
	b.setCookie("the access cookie", accessCookie, value, "/", network.CookieSameSiteLax)
}

// setCookie writes an HttpOnly cookie for the server through DevTools, as
// the server (or another site that shares its parent domain) could.
func (b *tab) setCookie(what, name, value, path string, sameSite network.CookieSameSite) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name:     name,
		Value:    value,
		URL:      b.srv.URL + path,
		Path:     path,
		HTTPOnly: new(true),
		SameSite: sameSite,
	})
	if err != nil {
		b.t.Fatalf("setting %s: %v", what, err)
	}
}

// disableScripts turns page JavaScript off (or on again) for this tab, as a
// browser with JavaScript disabled would be.
func (b *tab) disableScripts(off bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off}); err != nil {
		b.t.Fatalf("Emulation.setScriptExecutionDisabled(%v): %v", off, err)
	}
}

// intercept pauses the tab's requests whose URL matches pattern (DevTools
// Fetch wildcards, e.g. "*/auth/refresh") at stage, and answers each with
// what answer returns: a stand-in for a server or network that misbehaves.
// At the request stage the server never sees the request; at the response
// stage it has answered, and answer may rewrite that answer. stop ends the
// interception (later requests go through untouched) and fails the test if
// an answer could not be given.
func (b *tab) intercept(pattern string, stage fetch.RequestStage, answer func(*fetch.EventRequestPaused) fetch.FulfillRequestParams) (stop func()) {
	b.t.Helper()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	err := chromedp.Listen(b.ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		params := answer(e)
		params.RequestID = e.RequestID
		// No command inside a listener: answer from another goroutine.
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
			defer cancel()
			if _, err := chromedp.Call(ctx, fetch.FulfillRequest, params); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("answering %s %s: %w", e.Request.Method, e.Request.URL, err))
				mu.Unlock()
			}
		})
	})
	if err != nil {
		b.t.Fatalf("listening to fetch events: %v", err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: pattern, RequestStage: stage}},
	}); err != nil {
		b.t.Fatalf("Fetch.enable: %v", err)
	}
	return func() {
		b.t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
		defer cancel()
		if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
			b.t.Errorf("Fetch.disable: %v", err)
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, err := range errs {
			b.t.Error(err)
		}
	}
}

// answerStatus is an intercept answer: this status with a short text body,
// as a proxy or an overloaded server would give.
func answerStatus(code int) func(*fetch.EventRequestPaused) fetch.FulfillRequestParams {
	return func(*fetch.EventRequestPaused) fetch.FulfillRequestParams {
		return fetch.FulfillRequestParams{
			ResponseCode:    int64(code),
			ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
			Body:            []byte(http.StatusText(code)),
		}
	}
}

// request is one request the page sent, as DevTools reported it, with
// the status of its answer once one came (0 before).
type request struct {
	Method, Path string
	Status       int64
	id           network.RequestID
}

// netLog records the requests of a tab from the DevTools network events.
type netLog struct {
	mu   sync.Mutex
	reqs []request
}

// recordRequests starts recording the tab's requests (from now on).
func (b *tab) recordRequests() *netLog {
	b.t.Helper()
	l := &netLog{}
	err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && e.Response != nil {
			l.mu.Lock()
			for i := range l.reqs {
				if l.reqs[i].id == e.RequestID && l.reqs[i].Status == 0 {
					l.reqs[i].Status = e.Response.Status
				}
			}
			l.mu.Unlock()
			return
		}
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.Request == nil {
			return
		}
		u, err := url.Parse(e.Request.URL)
		if err != nil {
			return
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, request{Method: e.Request.Method, Path: u.Path, id: e.RequestID})
		l.mu.Unlock()
	})
	if err != nil {
		b.t.Fatalf("listening to network events: %v", err)
	}
	return l
}

// count is how many recorded requests had this method and path.
func (l *netLog) count(method, path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// countStatus is how many recorded requests had this method and path and
// were answered with status.
func (l *netLog) countStatus(method, path string, status int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if r.Method == method && r.Path == path && r.Status == status {
			n++
		}
	}
	return n
}

// expect fails the test unless the log holds want requests of method to
// path; why says what those requests are.
func (l *netLog) expect(t *testing.T, method, path string, want int, why string) {
	t.Helper()
	if n := l.count(method, path); n != want {
		t.Errorf("%s %s sent %d times, want %d%s (requests: %s)", method, path, n, want, why, l)
	}
}

func (l *netLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.reqs {
		if !strings.HasPrefix(r.Path, "/static/") {
			fmt.Fprintf(&b, "%s %s %d; ", r.Method, r.Path, r.Status)
		}
	}
	return b.String()
}
