package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/auth"
	"tokenflow/store"
)

// LOGIN_RATE_LIMIT counts every login of an address, successful ones too:
// one client cannot open sessions without end.
func TestLoginRateLimitCountsSuccesses(t *testing.T) {
	app := newTestApp(t, func(d *testDeps) { d.Settings.Limits.Logins = 4 })
	app.mustRegister(t, "busy", throttlePW)
	const addr, other = "198.51.100.10:1", "198.51.100.11:1"

	for range 3 {
		assertStatus(t, loginFrom(app, addr, "", "busy", throttlePW), http.StatusSeeOther)
	}
	assertStatus(t, loginFrom(app, addr, "", "busy", "wrong"), http.StatusUnauthorized) // failures count too
	assertThrottled(t, loginFrom(app, addr, "", "busy", throttlePW), 900)
	assertThrottled(t, loginFrom(app, addr, "", "someone-else", "pw"), 900)
	assertStatus(t, loginFrom(app, other, "", "busy", throttlePW), http.StatusSeeOther)

	app.clock.Advance(10 * time.Minute)
	assertThrottled(t, loginFrom(app, addr, "", "busy", throttlePW), 300) // refusals are not counted: the window ends on time
	app.clock.Advance(5 * time.Minute)
	assertStatus(t, loginFrom(app, addr, "", "busy", throttlePW), http.StatusSeeOther)

	t.Run("an IPv6 /56 is one address", func(t *testing.T) {
		for i := range 4 {
			assertStatus(t, loginFrom(app, fmt.Sprintf("[2001:db8:2:%x::1]:443", i), "", "busy", throttlePW), http.StatusSeeOther)
		}
		assertThrottled(t, loginFrom(app, "[2001:db8:2:ff::9]:443", "", "busy", throttlePW), 900)
		assertStatus(t, loginFrom(app, "[2001:db8:2:100::1]:443", "", "busy", throttlePW), http.StatusSeeOther)
	})
}

// MAX_SESSIONS_PER_USER: a login (or registration) past the cap ends the
// least recently used session; its refresh token stops working and its
// timeline says why.
func TestSessionCapEndsTheLeastRecentlyUsed(t *testing.T) {
	app := newTestApp(t, func(d *testDeps) { d.Settings.MaxSessionsPerUser = 2 })
	registered := app.mustRegister(t, "capped", throttlePW)
	app.clock.Advance(time.Minute)
	second := app.mustLogin(t, "capped", throttlePW)
	app.clock.Advance(time.Minute)
	assertStatus(t, registered.fetchRefresh(), http.StatusOK) // in use: second is now the least recently used
	app.clock.Advance(time.Minute)
	third := app.mustLogin(t, "capped", throttlePW)

	// Its timeline records why it ended. The evicted session's own token
	// no longer sees that timeline (an ended session sees only its
	// claims: the eviction names the newer login's address), so read it
	// from the store.
	secondSession := app.sessionOf(t, second)
	if secondSession.RevokeReason != store.EventEvicted {
		t.Errorf("the evicted session's revoke reason is %q, want %q", secondSession.RevokeReason, store.EventEvicted)
	}
	events, err := app.store.SessionEvents(context.Background(), secondSession.ID, 0)
	if err != nil || len(events) == 0 || events[0].Kind != store.EventEvicted {
		t.Errorf("the evicted session's newest event: %+v, %v; want %q", events, err, store.EventEvicted)
	}
	if w := second.fetchRefresh(); w.Code != http.StatusUnauthorized {
		t.Errorf("the evicted session refreshed: %d", w.Code)
	}
	assertStatus(t, registered.fetchRefresh(), http.StatusOK)
	w := third.get("/sessions")
	if n := strings.Count(w.Body.String(), "data-session="); w.Code != http.StatusOK || n != 2 {
		t.Errorf("sessions page: %d with %d sessions, want 2", w.Code, n)
	}
}

// gatedPasswords holds every password check at a gate until the test
// opens it, so a test controls how many checks are in flight at once.
type gatedPasswords struct {
	checksWaiting
	entered chan struct{} // one send per check that reached the gate
	gate    chan struct{} // closed: checks go on
	checks  atomic.Int32
}

// withGatedPasswords puts the app's hasher behind a gate and stores the
// gate in *pw.
func withGatedPasswords(pw **gatedPasswords) func(*testDeps) {
	return func(d *testDeps) {
		*pw = newGatedPasswords(d.Passwords, 64)
		d.Passwords = *pw
	}
}

func newGatedPasswords(inner auth.Passwords, capacity int) *gatedPasswords {
	p := &gatedPasswords{entered: make(chan struct{}, capacity), gate: make(chan struct{})}
	p.checksWaiting = checksWaiting{Passwords: inner, before: p.wait}
	return p
}

func (p *gatedPasswords) wait(ctx context.Context) error {
	p.checks.Add(1)
	p.entered <- struct{}{}
	select {
	case <-p.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// burst sends n logins at once, each from a fresh browser at addr, holds
// the password checks at the gate until inFlight of them are there, then
// lets them go, and returns the count of each status.
func burst(t *testing.T, app *testApp, pw *gatedPasswords, n, inFlight int, addr string, username func(i int) string, password string) map[int]int {
	t.Helper()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { codes[i] = loginFrom(app, addr, "", username(i), password).Code })
	}
	for range inFlight {
		select {
		case <-pw.entered:
		case <-time.After(10 * time.Second): // a guard against hanging, not an assertion on time
			t.Fatalf("fewer than %d password checks started", inFlight)
		}
	}
	close(pw.gate)
	wg.Wait()
	counts := map[int]int{}
	for _, c := range codes {
		counts[c]++
	}
	return counts
}

// Correct logins at once are not failures while they are checked: none is
// throttled, though more are in flight than the failure limits allow.
func TestConcurrentCorrectLoginsAreNotThrottled(t *testing.T) {
	t.Run("one account", func(t *testing.T) { // LoginFailureLimit 5
		var pw *gatedPasswords
		app := newTestApp(t, withGatedPasswords(&pw))
		app.mustRegister(t, "popular", throttlePW)
		counts := burst(t, app, pw, 8, 5, "203.0.113.50:1", func(int) string { return "popular" }, throttlePW)
		if counts[http.StatusSeeOther] != 8 {
			t.Errorf("statuses %v, want 8 logged in (303)", counts)
		}
	})
	t.Run("one address", func(t *testing.T) {
		var pw *gatedPasswords
		app := newTestApp(t, withGatedPasswords(&pw), func(d *testDeps) { d.Settings.Limits.AddressFailures = 3 })
		for i := range 8 {
			app.mustRegister(t, fmt.Sprintf("colleague%d", i), throttlePW)
		}
		counts := burst(t, app, pw, 8, 3, "203.0.113.51:1", func(i int) string { return fmt.Sprintf("colleague%d", i) }, throttlePW)
		if counts[http.StatusSeeOther] != 8 {
			t.Errorf("statuses %v, want 8 logged in (303)", counts)
		}
	})
}

// Wrong guesses at once are still bounded: no more are checked than the
// limit allows, however many arrive together, and the rest are refused.
func TestConcurrentGuessesStayBounded(t *testing.T) {
	t.Run("one account", func(t *testing.T) { // LoginFailureLimit 5
		var pw *gatedPasswords
		app := newTestApp(t, withGatedPasswords(&pw))
		app.mustRegister(t, "target", throttlePW)
		counts := burst(t, app, pw, 20, 5, "203.0.113.60:1", func(int) string { return "target" }, "wrong guess")
		if counts[http.StatusUnauthorized] != 5 || counts[http.StatusTooManyRequests] != 15 || pw.checks.Load() != 5 {
			t.Errorf("statuses %v after %d checks, want 5 checked (401) and 15 refused (429)", counts, pw.checks.Load())
		}
		// The right password now waits too, as after sequential guesses.
		assertThrottled(t, loginFrom(app, "203.0.113.60:1", "", "target", throttlePW), 30)
	})
	t.Run("one address, many accounts", func(t *testing.T) {
		var pw *gatedPasswords
		app := newTestApp(t, withGatedPasswords(&pw), func(d *testDeps) {
			d.Settings.Limits.AddressFailures = 3
			d.Settings.Limits.LoginFailures = 100
		})
		counts := burst(t, app, pw, 20, 3, "203.0.113.61:1", func(i int) string { return fmt.Sprintf("spray%d", i) }, "pw")
		if counts[http.StatusUnauthorized] != 3 || counts[http.StatusTooManyRequests] != 17 || pw.checks.Load() != 3 {
			t.Errorf("statuses %v after %d checks, want 3 checked (401) and 17 refused (429)", counts, pw.checks.Load())
		}
	})
}

// Waiting for room under a failure limit is bounded by the hashing wait:
// past it the answer is 503, and nothing is counted.
func TestWaitForRoomIsBounded(t *testing.T) {
	var pw *gatedPasswords
	// The gate is never opened: every check stalls.
	app := newTestApp(t, withGatedPasswords(&pw), func(d *testDeps) { d.hashWait = 50 * time.Millisecond })
	registerUnlessBusy(t, app, "stalled") // registration hashes outside the gate
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i] = loginFrom(app, "203.0.113.70:1", "", "stalled", "wrong").Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusServiceUnavailable {
			t.Errorf("login %d: %d, want 503", i, c)
		}
	}
	close(pw.gate)
	for range 4 {
		assertStatus(t, unlessBusy(t, func() *httptest.ResponseRecorder { return loginFrom(app, "203.0.113.70:1", "", "stalled", "wrong") }), http.StatusUnauthorized)
	}
	assertStatus(t, unlessBusy(t, func() *httptest.ResponseRecorder { return loginFrom(app, "203.0.113.70:1", "", "stalled", throttlePW) }), http.StatusSeeOther)
}

// unlessBusy sends a login again while it is answered 503 and returns the
// first other answer. After a test's short hashing wait (50 ms, so that
// stalled checks end soon) a real check can run out of that wait too on a
// loaded machine (the race detector, other packages' tests): the wait is
// wall-clock time. A busy answer counts nothing in the throttle (what
// these tests show), so asking again changes no count; were it counted,
// the repeats would end in 429 and the test would fail.
func unlessBusy(t *testing.T, login func() *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	t.Helper()
	const tries = 100
	for range tries - 1 {
		if w := login(); w.Code != http.StatusServiceUnavailable {
			return w
		}
	}
	return login()
}

// registerUnlessBusy registers username (password throttlePW) with
// unlessBusy and wants the 303.
func registerUnlessBusy(t *testing.T, app *testApp, username string) {
	t.Helper()
	assertStatus(t, unlessBusy(t, func() *httptest.ResponseRecorder {
		return app.browser().post("/auth/register", url.Values{"username": {username}, "password": {throttlePW}, "password_confirm": {throttlePW}})
	}), http.StatusSeeOther)
}
