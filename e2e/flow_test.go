package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Registering lands on the dashboard, and the tokens are HttpOnly in a real
// browser: the cookies exist (DevTools sees them) but document.cookie shows
// neither them nor their values.
func TestRegisterShowsDashboardAndPageScriptsCannotReadTokens(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)

	b.register("ada")
	if got := b.text(`[data-testid="username"]`); got != "ada" {
		t.Errorf("dashboard greets %q, want ada", got)
	}

	access, refresh := b.cookie(accessCookie), b.cookie(refreshCookie)
	if access == nil || refresh == nil {
		t.Fatalf("after registering the browser holds access=%v refresh=%v, want both cookies", access != nil, refresh != nil)
	}
	if !access.HTTPOnly || !refresh.HTTPOnly {
		t.Errorf("HttpOnly: access %v, refresh %v; want both", access.HTTPOnly, refresh.HTTPOnly)
	}
	if access.Path != "/" || refresh.Path != "/auth" {
		t.Errorf("paths: access %q, refresh %q; want / and /auth", access.Path, refresh.Path)
	}
	if access.SameSite != network.CookieSameSiteLax || refresh.SameSite != network.CookieSameSiteStrict {
		t.Errorf("SameSite: access %q, refresh %q; want Lax and Strict", access.SameSite, refresh.SameSite)
	}

	seen := evalJS[string](b, `document.cookie`)
	for _, leak := range []string{accessCookie, refreshCookie, access.Value, refresh.Value} {
		if strings.Contains(seen, leak) {
			t.Errorf("document.cookie = %q exposes %q", seen, leak)
		}
	}
}

// A protected page sends an anonymous visitor to the login page with next;
// logging in there continues to that page.
func TestLoginWithNextLandsOnRequestedPage(t *testing.T) {
	srv := startServer(t)
	srv.createUser(t, "grace")
	b := newBrowser(t, srv)

	b.open("/sessions")
	search := b.waitPage("/auth/login", `form[data-testid="login-form"]`)
	if q, _ := url.ParseQuery(strings.TrimPrefix(search, "?")); q.Get("next") != "/sessions" {
		t.Errorf("login page query %q, want next=/sessions", search)
	}
	b.login("grace")
	b.waitPage("/sessions", `[data-testid="current-session"]`)
}

// After the access token expires, opening a protected page goes through the
// interstitial (401), which refreshes with one POST and continues to the
// page with a new access cookie.
func TestExpiredTokenRefreshesThroughInterstitial(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.register("alan")
	before := b.cookieValue(accessCookie)

	srv.waitAccessExpired(t, before)
	reqs := b.recordRequests()
	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="username"]`)

	if after := b.cookieValue(accessCookie); after == before {
		t.Error("the access cookie is unchanged after the interstitial refresh")
	}
	if n := reqs.count(http.MethodPost, "/auth/refresh"); n != 1 {
		t.Errorf("POST /auth/refresh sent %d times, want 1 (requests: %s)", n, reqs)
	}
	if n := reqs.count(http.MethodGet, "/dashboard"); n != 2 {
		t.Errorf("GET /dashboard sent %d times, want 2: the interstitial, then the page (requests: %s)", n, reqs)
	}
}

// The dashboard's "call the API" button, after the token expired: /api/me
// answers 401 invalid_token, the script refreshes exactly once, retries, and
// shows the claims.
func TestAPIButtonAfterExpiryRefreshesOnceAndShowsResult(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.register("barbara")

	srv.waitAccessExpired(t, b.cookieValue(accessCookie))
	reqs := b.recordRequests()
	b.click("#call-api")

	if got := b.waitAttr("#api-log", "data-status"); got != "200" {
		t.Errorf("API log status %q, want 200", got)
	}
	if got := b.waitAttr("#api-log", "data-refreshed"); got != "true" {
		t.Errorf("API log refreshed %q, want true", got)
	}
	if log := b.text("#api-log"); !strings.Contains(log, `"barbara"`) {
		t.Errorf("API log does not show the caller's claims:\n%s", log)
	}
	if n := reqs.count(http.MethodPost, "/auth/refresh"); n != 1 {
		t.Errorf("POST /auth/refresh sent %d times, want exactly 1 (requests: %s)", n, reqs)
	}
	if n := reqs.count(http.MethodGet, "/api/me"); n != 2 {
		t.Errorf("GET /api/me sent %d times, want 2: refused, then retried (requests: %s)", n, reqs)
	}
}

// Two tabs of one browser, both past expiry, call the API at the same
// moment: both succeed, and the session survives (no false reuse alarm): a
// further refresh works and the dashboard still loads. With Web Locks the
// tabs refresh one after the other; without them (older browsers) both
// present the same refresh token at once and the server's grace window
// must absorb the second.
func TestTwoTabsRefreshingAtOnceKeepSession(t *testing.T) {
	for _, mode := range []struct {
		name      string
		hideLocks bool
	}{
		{"with Web Locks", false},
		{"without Web Locks, server grace window", true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := startServer(t)
			first := newBrowser(t, srv)
			first.register("edsger")
			second := first.newTab()
			second.open("/dashboard")
			second.waitPage("/dashboard", `[data-testid="username"]`)
			if mode.hideLocks {
				for _, tb := range []*tab{first, second} {
					evalJS[bool](tb, `Object.defineProperty(navigator, "locks", {value: undefined}), navigator.locks === undefined`)
				}
			}

			srv.waitAccessExpired(t, first.cookieValue(accessCookie))
			firstReqs, secondReqs := first.recordRequests(), second.recordRequests()
			clickAtOnce(t, `document.getElementById("call-api").click()`, first, second)

			for name, tb := range map[string]*tab{"first": first, "second": second} {
				if got := tb.waitAttr("#api-log", "data-status"); got != "200" {
					t.Errorf("%s tab: API status %q, want 200", name, got)
				}
			}
			refreshes := firstReqs.count(http.MethodPost, "/auth/refresh") + secondReqs.count(http.MethodPost, "/auth/refresh")
			if refreshes < 1 || refreshes > 2 {
				t.Errorf("POST /auth/refresh sent %d times across two tabs, want 1 or 2", refreshes)
			}

			if !evalJS[bool](first, `window.tokenflow.refresh()`) {
				t.Fatal("a further refresh failed: the session was revoked")
			}
			first.open("/dashboard")
			first.waitPage("/dashboard", `[data-testid="username"]`)
			// Whether the second refresh came within the grace window
			// depends on timing (it does nearly always without locks);
			// either way the session must survive, which is checked above.
			t.Logf("refreshes: %d; timeline shows a grace-window refresh: %v", refreshes,
				evalJS[bool](first, `!!document.querySelector(".event-refresh_grace")`))
		})
	}
}

// clickAtOnce runs the same script in several tabs concurrently.
func clickAtOnce(t *testing.T, script string, tabs ...*tab) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(tabs))
	for i, tb := range tabs {
		wg.Go(func() {
			// No t.Fatal off the test goroutine: collect the errors.
			errs[i] = chromedp.Do(tb.ctx, chromedp.Evaluate[chromedp.Void](script))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("running %s in %d tabs: %v", script, len(tabs), err)
	}
}

// Logging out lands on the login page, the dashboard then asks for a login,
// and another open tab of the same browser follows to the login page
// (BroadcastChannel in app.js).
func TestLogoutEndsSessionInEveryTab(t *testing.T) {
	srv := startServer(t)
	first := newBrowser(t, srv)
	first.register("margaret")
	second := first.newTab()
	second.open("/dashboard")
	second.waitPage("/dashboard", `[data-testid="username"]`)

	first.click(`[data-testid="logout"]`)
	first.waitPage("/auth/login", `form[data-testid="login-form"]`)
	second.waitPage("/auth/login", `form[data-testid="login-form"]`)
	if c := first.cookie(accessCookie); c != nil {
		t.Errorf("the access cookie survived logout")
	}
	if c := first.cookie(refreshCookie); c != nil {
		t.Errorf("the refresh cookie survived logout")
	}

	first.open("/dashboard")
	search := first.waitPage("/auth/login", `form[data-testid="login-form"]`)
	if !strings.Contains(search, "next=%2Fdashboard") {
		t.Errorf("after logout /dashboard went to the login page with query %q, want next=%%2Fdashboard", search)
	}
}

// A refresh token replayed after the grace window is taken as stolen: the
// replay fails, the login page shows the security notice, and the whole
// session is revoked, so the newest token of the session is refused too.
func TestReplayedRefreshTokenAfterGraceRevokesSession(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.register("whitfield")

	stolen := b.cookieValue(refreshCookie)
	if !evalJS[bool](b, `window.tokenflow.refresh()`) {
		t.Fatal("the page's refresh failed")
	}
	rotated := time.Now()
	current := b.cookieValue(refreshCookie)
	if current == stolen {
		t.Fatal("the refresh did not rotate the refresh token")
	}

	// Past the grace window (a clock wait: nothing to observe), and past
	// the access token's expiry, so the next page load needs a refresh.
	time.Sleep(time.Until(rotated.Add(reuseGrace + 200*time.Millisecond)))
	srv.waitAccessExpired(t, b.cookieValue(accessCookie))

	b.setRefreshCookie(stolen) // the replay, injected through DevTools
	b.open("/dashboard")
	b.waitPage("/auth/login", `[data-testid="notice"]`)
	if notice := b.text(`[data-testid="notice"]`); !strings.Contains(notice, "security") {
		t.Errorf("login notice %q, want the security message", notice)
	}
	if got := srv.refreshOutsideBrowser(t, current); got != http.StatusUnauthorized {
		t.Errorf("the session's newest refresh token answered %d after the replay, want 401 (session revoked)", got)
	}
}

// With JavaScript disabled, the interstitial's <noscript> Continue button
// posts the refresh form and lands on the page with a new access cookie.
func TestNoScriptInterstitialContinueButtonRefreshes(t *testing.T) {
	srv := startServer(t)
	srv.createUser(t, "tim")
	b := newBrowser(t, srv)
	b.disableScripts(true)

	b.open("/auth/login?next=/dashboard")
	b.login("tim")
	b.waitPage("/dashboard", `[data-testid="username"]`)
	before := b.cookieValue(accessCookie)

	srv.waitAccessExpired(t, before)
	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="continue"]`)
	b.click(`[data-testid="continue"]`)
	b.waitPage("/dashboard", `[data-testid="username"]`)
	if after := b.cookieValue(accessCookie); after == before {
		t.Error("the access cookie is unchanged after the no-script refresh")
	}
}

// The sessions page revokes another device's session (a separate cookie
// jar); that device then cannot refresh and ends on the login page, while
// this one goes on.
func TestSessionsPageRevokesOtherDevice(t *testing.T) {
	srv := startServer(t)
	srv.createUser(t, "radia")
	laptop := newBrowser(t, srv)
	laptop.open("/auth/login")
	laptop.login("radia")
	laptop.waitPage("/dashboard", `[data-testid="username"]`)

	phone := laptop.newSeparateProfile()
	phone.open("/auth/login")
	phone.login("radia")
	phone.waitPage("/dashboard", `[data-testid="username"]`)
	phoneAccess := phone.cookieValue(accessCookie)
	if laptop.cookieValue(accessCookie) == phoneAccess {
		t.Fatal("the two profiles share a cookie jar")
	}

	laptop.open("/sessions")
	laptop.waitPage("/sessions", `[data-testid="current-session"]`)
	if n := evalJS[int](laptop, `document.querySelectorAll("tr[data-session]").length`); n != 2 {
		t.Fatalf("sessions page lists %d sessions, want 2", n)
	}
	laptop.click(`tr[data-session]:not(:has([data-testid="current-session"])) [data-testid="revoke-session"]`)
	laptop.waitPage("/sessions", `table[data-testid="sessions"] tbody tr:only-child [data-testid="current-session"]`)

	srv.waitAccessExpired(t, phoneAccess)
	phone.open("/dashboard")
	phone.waitPage("/auth/login", `form[data-testid="login-form"]`)

	laptop.open("/dashboard")
	laptop.waitPage("/dashboard", `[data-testid="username"]`)
}
