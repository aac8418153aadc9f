package e2e

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
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
	b.waitLoginFor("/sessions", "an anonymous visit to /sessions")
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

	srv.expireAccess(t, before)
	reqs := b.recordRequests()
	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="username"]`)

	if after := b.cookieValue(accessCookie); after == before {
		t.Error("the access cookie is unchanged after the interstitial refresh")
	}
	reqs.expect(t, http.MethodPost, "/auth/refresh", 1, "")
	reqs.expect(t, http.MethodGet, "/dashboard", 2, ": the interstitial, then the page")
}

// The dashboard's "call the API" button, after the token expired: /api/me
// answers 401 invalid_token, the script refreshes exactly once, retries, and
// shows the claims.
func TestAPIButtonAfterExpiryRefreshesOnceAndShowsResult(t *testing.T) {
	b := registeredWithExpiredAccess(t, "barbara")
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
	reqs.expect(t, http.MethodPost, "/auth/refresh", 1, "")
	reqs.expect(t, http.MethodGet, "/api/me", 2, ": refused, then retried")
}

// fetchWithRefresh asks for JSON even when the caller passes headers of its
// own: an unknown page answers JSON, not the HTML error page, both with a
// plain object and with a Headers object.
func TestFetchWithRefreshKeepsAcceptWithCallerHeaders(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.open("/")
	b.waitPage("/", "h1")
	for _, headers := range []string{`{"X-Check": "1"}`, `new Headers({"X-Check": "1"})`, `[["X-Check", "1"]]`} {
		got := evalJS[string](b, `window.tokenflow.fetchWithRefresh("/no-such-page", {headers: `+headers+`})`+
			`.then(r => r.response.status + " " + r.response.headers.get("Content-Type"))`)
		if !strings.HasPrefix(got, "404 application/json") {
			t.Errorf("headers %s: answer %q, want 404 application/json", headers, got)
		}
	}
	// The caller's own Accept wins.
	got := evalJS[string](b, `window.tokenflow.fetchWithRefresh("/no-such-page", {headers: {"Accept": "text/html"}})`+
		`.then(r => r.response.headers.get("Content-Type"))`)
	if !strings.HasPrefix(got, "text/html") {
		t.Errorf("with Accept: text/html the answer is %q, want text/html", got)
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
			srv, first, second := twoTabsOnTheDashboard(t, "edsger")
			if mode.hideLocks {
				for _, tb := range []*tab{first, second} {
					evalJS[bool](tb, `Object.defineProperty(navigator, "locks", {value: undefined}), navigator.locks === undefined`)
				}
			}

			srv.expireAccess(t, first.cookieValue(accessCookie))
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

// Logging out lands on the login page with the "You have logged out."
// notice, the dashboard then asks for a login, and another open tab of the
// same browser follows to the login page: the login page that confirms the
// logout tells the other tabs (BroadcastChannel in app.js). Revoking this
// session on /sessions is a logout too.
func TestLogoutEndsSessionInEveryTab(t *testing.T) {
	for _, how := range []struct {
		name, page, button string
	}{
		{"logout button", "/dashboard", `[data-testid="logout"]`},
		{"revoking this session on /sessions", "/sessions",
			`tr[data-session]:has([data-testid="current-session"]) [data-testid="revoke-session"]`},
	} {
		t.Run(how.name, func(t *testing.T) {
			_, first, second := twoTabsOnTheDashboard(t, "margaret")
			first.open(how.page)

			first.click(how.button)
			first.waitPage("/auth/login", `[data-testid="notice"]`)
			if notice := first.text(`[data-testid="notice"]`); notice != "You have logged out." {
				t.Errorf("the tab that logged out shows the notice %q, want %q", notice, "You have logged out.")
			}
			second.waitLoginFor("/dashboard", "the other tab")
			if c := first.cookie(accessCookie); c != nil {
				t.Errorf("the access cookie survived logout")
			}
			if c := first.cookie(refreshCookie); c != nil {
				t.Errorf("the refresh cookie survived logout")
			}

			first.open("/dashboard")
			first.waitLoginFor("/dashboard", "/dashboard after logout")
		})
	}
}

// A logout the server refused (here a 403, as from a proxy) ends nothing:
// the other tab stays on its page, since only a confirmed logout is told.
func TestFailedLogoutLeavesOtherTabsAlone(t *testing.T) {
	_, first, second := twoTabsOnTheDashboard(t, "hedy")

	stop := first.intercept("*/auth/logout", fetch.RequestStageRequest, answerStatus(http.StatusForbidden))
	first.click(`[data-testid="logout"]`)
	first.waitPage("/auth/logout", "body")
	stop()

	// Nothing to wait for but time: a broadcast used to arrive within
	// milliseconds of the click.
	time.Sleep(300 * time.Millisecond)
	second.waitPage("/dashboard", `[data-testid="username"]`)
	second.open("/dashboard")
	second.waitPage("/dashboard", `[data-testid="username"]`)
}

// When /auth/refresh fails for any other reason than 401 (a 503 here), the
// session is not over: the API button says the refresh failed and stays,
// the interstitial offers "Try again" instead of the login page, and once
// the server answers again, trying again continues to the page.
func TestRefreshOutageKeepsSession(t *testing.T) {
	b := registeredWithExpiredAccess(t, "katherine")

	stop := b.intercept("*/auth/refresh", fetch.RequestStageRequest, answerStatus(http.StatusServiceUnavailable))
	b.click("#call-api")
	if got := b.waitAttr("#api-log", "data-refresh-failed"); got != "503" {
		t.Errorf("API log refresh-failed %q, want 503", got)
	}
	if got := b.waitAttr("#api-log", "data-status"); got != "401" {
		t.Errorf("API log status %q, want the original 401", got)
	}
	if log := b.text("#api-log"); !strings.Contains(log, "refresh failed (status 503), try again") {
		t.Errorf("API log does not say the refresh failed:\n%s", log)
	}
	b.waitPage("/dashboard", `[data-testid="username"]`) // still here, not sent to login

	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="interstitial"][data-state="error"] [data-testid="interstitial-action"]`)
	if status := b.text("#interstitial-status"); !strings.Contains(status, "503") || !strings.Contains(status, "Try again") {
		t.Errorf("interstitial status %q, want the 503 and a Try again link", status)
	}
	stop()

	b.click(`[data-testid="interstitial-action"]`)
	b.waitPage("/dashboard", `[data-testid="username"]`)
}

// Loop guard: when the page still answers with the interstitial right after
// a successful refresh (here the refresh answers 200 but no new cookies
// arrive, as when the browser blocks them or a stray cookie shadows them),
// the interstitial refreshes once, not forever, and offers to log in again.
func TestInterstitialRefreshesOnlyOnceWhenThePageStillRefuses(t *testing.T) {
	b := registeredWithExpiredAccess(t, "ida")

	// (Rewriting the server's answer at the response stage would not do:
	// Chromium stores the cookies before the interception sees them.)
	stop := b.intercept("*/auth/refresh", fetch.RequestStageRequest, func(*fetch.EventRequestPaused) fetch.FulfillRequestParams {
		return fetch.FulfillRequestParams{
			ResponseCode:    http.StatusOK,
			ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
			Body:            []byte(`{}`),
		}
	})
	defer stop()
	reqs := b.recordRequests()
	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="interstitial"][data-state="loop"] a[data-testid="interstitial-action"]`)
	reqs.expect(t, http.MethodPost, "/auth/refresh", 1, "")
	reqs.expect(t, http.MethodGet, "/dashboard", 2, ": interstitial, refresh, interstitial again")

	b.click(`[data-testid="interstitial-action"]`)
	b.waitLoginFor("/dashboard", "log in again")
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
	current := b.cookieValue(refreshCookie)
	if current == stolen {
		t.Fatal("the refresh did not rotate the refresh token")
	}

	// Past the grace window, and past the access token's expiry, so the
	// next page load needs a refresh.
	srv.clock.Advance(reuseGrace + time.Second)
	srv.expireAccess(t, b.cookieValue(accessCookie))

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

// Cookie tossing in a real browser: another account's access cookie planted
// under a longer Path (Chromium sends it first) logs the victim in as
// nobody, not as the attacker; the login page says why, and the victim's
// own cookies are left alone.
func TestTossedAccessCookieLogsNobodyIn(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.register("vera")
	ownAccess, ownRefresh := b.cookieValue(accessCookie), b.cookieValue(refreshCookie)

	attacker := b.newSeparateProfile()
	attacker.register("mallory")
	planted := attacker.cookieValue(accessCookie)

	b.setCookie("the planted cookie", accessCookie, planted, "/dashboard", network.CookieSameSiteLax)

	b.open("/dashboard")
	b.waitPage("/auth/login", `[data-testid="notice"]`)
	if got := b.text(`[data-testid="notice"]`); !strings.Contains(got, "conflicting") {
		t.Errorf("login page notice %q, want it to name the conflicting cookies", got)
	}
	if b.cookieValue(accessCookie) != ownAccess || b.cookieValue(refreshCookie) != ownRefresh {
		t.Error("the victim's own cookies were changed because of the planted one")
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

	srv.expireAccess(t, before)
	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="continue"]`)
	// Nothing happens by itself without a script: the page says to press
	// Continue, and offers neither "Log in" nor account links meanwhile.
	if text := b.text(`[data-testid="interstitial"]`); !strings.Contains(text, "Press Continue") || strings.Contains(text, " now") {
		t.Errorf("the no-script interstitial reads %q; want it to say to press Continue, and nothing about now", text)
	}
	if links := b.navLinks(); len(links) != 1 || links[0] != "/how-it-works" {
		t.Errorf("the interstitial's header links %q, want only /how-it-works", links)
	}
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
	laptop.logInToDashboard("radia")

	phone := laptop.newSeparateProfile()
	phone.logInToDashboard("radia")
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

	srv.expireAccess(t, phoneAccess)
	phone.open("/dashboard")
	phone.waitPage("/auth/login", `form[data-testid="login-form"]`)

	laptop.open("/dashboard")
	laptop.waitPage("/dashboard", `[data-testid="username"]`)
}

// registeredWithExpiredAccess is a browser of a new user whose access token
// has just expired while the session lives: the next guarded page or API
// call needs a refresh.
func registeredWithExpiredAccess(t *testing.T, username string) *tab {
	t.Helper()
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.register(username)
	srv.expireAccess(t, b.cookieValue(accessCookie))
	return b
}

// twoTabsOnTheDashboard registers username in one browser and opens a
// second tab of it on the dashboard: two tabs sharing one session's cookies.
func twoTabsOnTheDashboard(t *testing.T, username string) (srv *server, first, second *tab) {
	t.Helper()
	srv = startServer(t)
	first = newBrowser(t, srv)
	first.register(username)
	second = first.newTab()
	second.open("/dashboard")
	second.waitPage("/dashboard", `[data-testid="username"]`)
	return srv, first, second
}
