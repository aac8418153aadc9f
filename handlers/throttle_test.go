package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
)

const throttlePW = "correct horse battery"

// loginFrom posts the login form from a fresh browser at remoteAddr, with
// an optional X-Forwarded-For.
func loginFrom(app *testApp, remoteAddr, xff, username, pw string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/auth/login",
		strings.NewReader(url.Values{"username": {username}, "password": {pw}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.RemoteAddr = remoteAddr
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	return app.browser().do(r)
}

func login(app *testApp, username, pw string) *httptest.ResponseRecorder {
	return loginFrom(app, "203.0.113.7:5555", "", username, pw)
}

// assertThrottled: 429, Retry-After in seconds, the one generic message, no
// cookies.
func assertThrottled(t *testing.T, w *httptest.ResponseRecorder, retryAfter int) {
	t.Helper()
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Errorf("Retry-After %q, want %d", got, retryAfter)
	}
	if !strings.Contains(w.Body.String(), loginThrottled) {
		t.Errorf("the login form lacks the throttle message")
	}
	if strings.Contains(w.Body.String(), loginFailed) {
		t.Errorf("a throttled answer must not claim the password was checked")
	}
	if len(w.Result().Cookies()) > 0 {
		t.Errorf("a throttled login set cookies")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}
}

func assertStatus(t *testing.T, w *httptest.ResponseRecorder, want int) {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status %d, want %d; Retry-After %q", w.Code, want, w.Header().Get("Retry-After"))
	}
}

func TestLoginThrottlePerAccount(t *testing.T) {
	app := newTestApp(t) // LoginFailureLimit 5
	app.mustRegister(t, "victim", throttlePW)
	app.mustRegister(t, "bystander", throttlePW)

	for i := 0; i < 5; i++ {
		assertStatus(t, login(app, "victim", "wrong guess"), http.StatusUnauthorized)
	}
	// The limit is reached: even the right password waits, or the lock
	// would tell a guesser when they hit it.
	assertThrottled(t, login(app, "victim", "wrong guess"), 30)
	assertThrottled(t, login(app, "victim", throttlePW), 30)
	assertThrottled(t, login(app, "VICTIM", throttlePW), 30) // usernames fold case

	t.Run("other accounts are not affected", func(t *testing.T) {
		assertStatus(t, login(app, "bystander", throttlePW), http.StatusSeeOther)
	})

	t.Run("the wait doubles per failure, capped at 15 minutes", func(t *testing.T) {
		want := 30
		for i := 0; i < 10; i++ {
			w := login(app, "victim", "wrong guess")
			ra, _ := strconv.Atoi(w.Header().Get("Retry-After"))
			if w.Code != http.StatusTooManyRequests || ra != want {
				t.Fatalf("step %d: %d, Retry-After %d, want 429 with %d", i, w.Code, ra, want)
			}
			// Hammering a locked account neither is checked nor extends
			// the lock: the wait expires on its own.
			for j := 0; j < 20; j++ {
				login(app, "victim", "wrong guess")
			}
			app.clock.Advance(time.Duration(ra) * time.Second)
			assertStatus(t, login(app, "victim", "wrong guess"), http.StatusUnauthorized)
			want = min(want*2, 900)
		}
		assertThrottled(t, login(app, "victim", "wrong guess"), 900)
	})

	t.Run("a success after the wait resets the count", func(t *testing.T) {
		app.clock.Advance(15 * time.Minute)
		assertStatus(t, login(app, "victim", throttlePW), http.StatusSeeOther)
		for i := 0; i < 5; i++ {
			assertStatus(t, login(app, "victim", "wrong again"), http.StatusUnauthorized)
		}
		assertThrottled(t, login(app, "victim", "wrong again"), 30)
	})

	t.Run("failures are forgotten after a quiet day", func(t *testing.T) {
		app.clock.Advance(24 * time.Hour) // how long failures are remembered
		for i := 0; i < 5; i++ {
			assertStatus(t, login(app, "victim", "wrong"), http.StatusUnauthorized)
		}
		app.clock.Advance(31 * time.Second)
		assertStatus(t, login(app, "victim", throttlePW), http.StatusSeeOther)
	})
}

// An unknown username is counted and answered exactly like a real one, so
// throttling does not reveal which accounts exist.
func TestLoginThrottleSameForUnknownAccounts(t *testing.T) {
	app := newTestApp(t)
	app.mustRegister(t, "realuser", throttlePW)
	var bodies []string
	for _, name := range []string{"realuser", "ghostuser"} {
		for i := 0; i < 5; i++ {
			assertStatus(t, login(app, name, "wrong guess"), http.StatusUnauthorized)
		}
		w := login(app, name, "wrong guess")
		assertThrottled(t, w, 30)
		bodies = append(bodies, strings.ReplaceAll(w.Body.String(), name, "NAME"))
	}
	if bodies[0] != bodies[1] {
		t.Error("the throttled page differs between an existing and an unknown account")
	}
}

// Parallel guesses cannot all slip through before the first is counted.
func TestLoginThrottleParallelBurst(t *testing.T) {
	app := newTestApp(t)
	app.mustRegister(t, "burst", throttlePW)
	var wg sync.WaitGroup
	codes := make(chan int, 40)
	for i := 0; i < 40; i++ {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodPost, "/auth/login",
				strings.NewReader(url.Values{"username": {"burst"}, "password": {"wrong"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = "203.0.113.7:5555"
			w := httptest.NewRecorder()
			app.e.ServeHTTP(w, r)
			codes <- w.Code
		})
	}
	wg.Wait()
	close(codes)
	counts := map[int]int{}
	for c := range codes {
		counts[c]++
	}
	if counts[http.StatusUnauthorized] != 5 || counts[http.StatusTooManyRequests] != 35 {
		t.Errorf("statuses %v, want 5 checked (401) and 35 refused (429)", counts)
	}
}

func TestLoginThrottlePerAddress(t *testing.T) {
	app := newTestApp(t, func(d *testDeps) {
		d.Settings.Limits.AddressFailures = 3
		d.Settings.Limits.LoginFailures = 100
	})
	app.mustRegister(t, "ipuser", throttlePW)
	const attacker, other = "198.51.100.66:1000", "198.51.100.77:1000"

	assertStatus(t, loginFrom(app, attacker, "", "ipuser", throttlePW), http.StatusSeeOther)
	for i := range 3 {
		assertStatus(t, loginFrom(app, attacker, "", fmt.Sprintf("spray%d", i), "pw"), http.StatusUnauthorized)
	}
	// A success does not give a guesser a new budget; the address is done
	// for the window, whatever the username.
	assertThrottled(t, loginFrom(app, attacker, "", "spray9", "pw"), 900)
	assertThrottled(t, loginFrom(app, attacker, "", "ipuser", throttlePW), 900)
	assertStatus(t, loginFrom(app, other, "", "ipuser", throttlePW), http.StatusSeeOther)

	app.clock.Advance(10 * time.Minute)
	assertThrottled(t, loginFrom(app, attacker, "", "spray9", "pw"), 300)
	app.clock.Advance(5 * time.Minute)
	assertStatus(t, loginFrom(app, attacker, "", "ipuser", throttlePW), http.StatusSeeOther)

	t.Run("an IPv6 /56 is one address", func(t *testing.T) {
		// Three /64s of one /56: one budget.
		for i := range 3 {
			addr := fmt.Sprintf("[2001:db8:1:%x::1]:443", i)
			assertStatus(t, loginFrom(app, addr, "", "spray", "pw"), http.StatusUnauthorized)
		}
		assertThrottled(t, loginFrom(app, "[2001:db8:1:ff:ffff::1]:443", "", "spray", "pw"), 900)
		// The next /56 has its own.
		assertStatus(t, loginFrom(app, "[2001:db8:1:100::1]:443", "", "ipuser", throttlePW), http.StatusSeeOther)
	})
}

func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	limits := func(d *testDeps) {
		d.Settings.Limits.AddressFailures = 3
		d.Settings.Limits.LoginFailures = 100
	}
	t.Run("without trusted proxies, rotating X-Forwarded-For gains nothing", func(t *testing.T) {
		app := newTestApp(t, limits)
		for i := range 3 {
			assertStatus(t, loginFrom(app, "198.51.100.66:1", fmt.Sprintf("192.0.2.%d", i), "u", "pw"), http.StatusUnauthorized)
		}
		assertThrottled(t, loginFrom(app, "198.51.100.66:1", "192.0.2.200", "u", "pw"), 900)
	})
	t.Run("with TRUSTED_PROXIES the forwarded address is the client", func(t *testing.T) {
		app := newTestApp(t, limits, func(d *testDeps) {
			d.Settings.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}
		})
		const proxy = "10.0.0.5:40000"
		for range 3 {
			assertStatus(t, loginFrom(app, proxy, "198.51.100.1", "u", "pw"), http.StatusUnauthorized)
		}
		assertThrottled(t, loginFrom(app, proxy, "198.51.100.1", "u", "pw"), 900)
		// Another client behind the same proxy has its own budget.
		assertStatus(t, loginFrom(app, proxy, "198.51.100.2", "u", "pw"), http.StatusUnauthorized)
		// A client that prepends its own X-Forwarded-For is still known by
		// the address the proxy appended.
		assertThrottled(t, loginFrom(app, proxy, "6.6.6.6, 198.51.100.1", "u", "pw"), 900)
		// A peer that is not a trusted proxy cannot choose its address.
		for range 3 {
			assertStatus(t, loginFrom(app, "192.0.2.50:1", "198.51.100.99", "u", "pw"), http.StatusUnauthorized)
		}
		assertThrottled(t, loginFrom(app, "192.0.2.50:1", "198.51.100.98", "u", "pw"), 900)
		assertStatus(t, loginFrom(app, proxy, "198.51.100.99", "u", "pw"), http.StatusUnauthorized)
	})
}

func TestRegisterRateLimit(t *testing.T) {
	app := newTestApp(t, func(d *testDeps) { d.Settings.Limits.Registrations = 2 })
	register := func(remote, username string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(url.Values{
			"username": {username}, "password": {throttlePW}, "password_confirm": {throttlePW},
		}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = remote
		return app.browser().do(r)
	}
	const addr = "198.51.100.5:1"
	// Invalid forms cost nothing and are not counted.
	for range 5 {
		assertStatus(t, register(addr, "x"), http.StatusUnprocessableEntity)
	}
	assertStatus(t, register(addr, "first"), http.StatusSeeOther)
	assertStatus(t, register(addr, "first"), http.StatusUnprocessableEntity) // taken: counted, it was hashed
	w := register(addr, "third")
	assertStatus(t, w, http.StatusTooManyRequests)
	if got := w.Header().Get("Retry-After"); got != "3600" {
		t.Errorf("Retry-After %q, want 3600", got)
	}
	if !strings.Contains(w.Body.String(), "Too many registrations") {
		t.Error("no message on the form")
	}
	if _, err := app.store.UserByUsername(context.Background(), "third"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the user was created anyway: %v", err)
	}
	assertStatus(t, register("198.51.100.6:1", "fromelsewhere"), http.StatusSeeOther)
	app.clock.Advance(time.Hour)
	assertStatus(t, register(addr, "third"), http.StatusSeeOther)
}
