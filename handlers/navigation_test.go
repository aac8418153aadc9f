package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mainNav is the header navigation of a page.
func mainNav(t *testing.T, body string) string {
	t.Helper()
	start := strings.Index(body, `<nav aria-label="Main"`)
	if start < 0 {
		t.Fatalf("no main navigation in %.300s", body)
	}
	end := strings.Index(body[start:], "</nav>")
	return body[start : start+end]
}

type navKind int

const (
	navLoggedOut navKind = iota
	navLoggedIn
	navNeutral // the interstitial: neither
)

func assertNav(t *testing.T, page, body string, want navKind) {
	t.Helper()
	nav := mainNav(t, body)
	in := strings.Contains(nav, `href="/dashboard"`) && strings.Contains(nav, `href="/sessions"`)
	out := strings.Contains(nav, `href="/auth/login"`) || strings.Contains(nav, `href="/auth/register"`)
	switch {
	case want == navLoggedIn && (!in || out):
		t.Errorf("%s: want the logged-in navigation, got %s", page, nav)
	case want == navLoggedOut && (in || !out):
		t.Errorf("%s: want the logged-out navigation, got %s", page, nav)
	case want == navNeutral && (in || out):
		t.Errorf("%s: want neither login nor account links, got %s", page, nav)
	}
}

// Whoever holds a valid access cookie sees the logged-in navigation on every
// page, the login and registration forms and error pages included; nobody
// else does.
func TestNavigationFollowsTheAccessCookie(t *testing.T) {
	a, in := newTestAppWithUser(t, "pat")
	out := a.browser()
	for _, path := range []string{"/", "/how-it-works", "/auth/login", "/auth/login?next=/sessions", "/auth/register", "/no-such-page", "/static/nope.css"} {
		w := in.get(path)
		assertNav(t, "logged in, GET "+path, w.Body.String(), navLoggedIn)
		w = out.get(path)
		assertNav(t, "anonymous, GET "+path, w.Body.String(), navLoggedOut)
	}
	w := in.post("/auth/login", url.Values{"username": {"pat"}, "password": {"wrong password"}})
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("failed login: %d", w.Code)
	}
	assertNav(t, "logged in, failed POST /auth/login", w.Body.String(), navLoggedIn)
	w = in.post("/auth/register", url.Values{"username": {"x"}})
	assertNav(t, "logged in, invalid POST /auth/register", w.Body.String(), navLoggedIn)

	// A forged cookie is no login.
	forged := a.browser()
	forged.cookies[AccessCookie] = &http.Cookie{Name: AccessCookie, Value: "eyJhbGciOiJIUzI1NiJ9.e30.bm90LWEtc2lnbmF0dXJl", Path: "/"}
	assertNav(t, "forged cookie, GET /auth/login", forged.get("/auth/login").Body.String(), navLoggedOut)
}

// The interstitial is for someone whose access token failed but whose
// session is being renewed: it offers neither "Log in" nor account links.
func TestInterstitialNavigationIsNeutral(t *testing.T) {
	a, b := newTestAppWithUser(t, "pat")
	a.clock.Advance(10 * time.Minute)
	w := b.get("/dashboard")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `data-testid="interstitial"`) {
		t.Fatalf("GET /dashboard with an expired token: %d, want the interstitial", w.Code)
	}
	assertNav(t, "interstitial", w.Body.String(), navNeutral)
}

// The login page tells someone already logged in who they are, and offers
// the dashboard (or the page they were going to) and a logout, with the
// form kept for switching accounts.
func TestLoginPageForSomeoneLoggedIn(t *testing.T) {
	a, b := newTestAppWithUser(t, "pat")
	for _, tc := range []struct{ path, continueTo string }{
		{"/auth/login", "/dashboard"},
		{"/auth/login?next=/sessions", "/sessions"},
	} {
		body := b.get(tc.path).Body.String()
		for _, want := range []string{
			`data-testid="logged-in-as"`, `<strong>pat</strong>`,
			`href="` + tc.continueTo + `" class="button" data-testid="continue-as"`,
			`<form method="post" action="/auth/logout"`, `data-testid="login-logout"`,
			`data-testid="login-form"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %s", tc.path, want)
			}
		}
	}
	if body := a.browser().get("/auth/login").Body.String(); strings.Contains(body, `data-testid="logged-in-as"`) {
		t.Error("an anonymous visitor is told they are logged in")
	}
}

// A protected page sends an anonymous visitor to the login form with a line
// saying where logging in leads; without (or with a refused) next there is
// no such line.
func TestLoginPageSaysWhereItContinues(t *testing.T) {
	a := newTestApp(t)
	b := a.browser()
	w := b.get("/dashboard")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("anonymous GET /dashboard: %d", w.Code)
	}
	body := b.get(w.Header().Get("Location")).Body.String()
	if !strings.Contains(body, `data-testid="login-to-continue"`) || !strings.Contains(body, "Log in to continue to <code>/dashboard</code>") {
		t.Errorf("the login page after /dashboard does not say to log in to continue: %s", body)
	}
	for _, path := range []string{"/auth/login", "/auth/login?next=//evil.example/x"} {
		if strings.Contains(b.get(path).Body.String(), `data-testid="login-to-continue"`) {
			t.Errorf("GET %s says log in to continue", path)
		}
	}
}

// Without JavaScript nothing trades the token by itself: the text says to
// press Continue, and nothing outside the script's status claims a refresh
// is under way.
func TestInterstitialWithoutScriptSaysPressContinue(t *testing.T) {
	a, b := newTestAppWithUser(t, "pat")
	a.clock.Advance(10 * time.Minute)
	body := b.get("/dashboard").Body.String()
	start, end := strings.Index(body, "<noscript>"), strings.Index(body, "</noscript>")
	if start < 0 || end < start {
		t.Fatalf("no noscript block: %s", body)
	}
	noscript := body[start:end]
	if !strings.Contains(noscript, "Press <strong>Continue</strong>") {
		t.Errorf("the noscript text does not say to press Continue: %s", noscript)
	}
	outside := body[:start] + body[end:]
	if strings.Contains(outside, " now") {
		t.Errorf("outside the noscript block the page says something happens now: %s", outside)
	}
}

// A 404 page is for users: no request id on it (it stays in the header and
// the log); a 500 page keeps it (TestInternalErrorsShowOnlyARequestID).
func TestNotFoundPageShowsNoRequestID(t *testing.T) {
	a := newTestApp(t)
	w := a.browser().get("/no-such-page")
	id := w.Header().Get("X-Request-Id")
	if w.Code != http.StatusNotFound || id == "" {
		t.Fatalf("GET /no-such-page: %d, X-Request-Id %q", w.Code, id)
	}
	if body := w.Body.String(); strings.Contains(body, id) || strings.Contains(body, "request id") {
		t.Errorf("the 404 page shows the request id: %s", body)
	}
}

// Lifetimes read as people say them ("in 1 hour"), not "in 59m 59s".
func TestLifetimesReadAsHumanDurations(t *testing.T) {
	a := newTestApp(t) // 5 minute access tokens, 1 hour idle sessions
	b := a.mustRegister(t, "pat", goodPassword)
	dash := b.get("/dashboard").Body.String()
	for _, want := range []string{`data-testid="access-countdown" aria-live="off">(in 5 minutes)`, `data-testid="session-countdown" aria-live="off">(in 1 hour)`} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	a.clock.Advance(90 * time.Second)
	if dash := b.get("/dashboard").Body.String(); !strings.Contains(dash, "(in 3 minutes 30 seconds)") {
		t.Errorf("after 90s the access countdown does not read 3 minutes 30 seconds")
	}
	if s := b.get("/sessions").Body.String(); !strings.Contains(s, "(in 58 minutes 30 seconds)") {
		t.Errorf("the sessions page does not say when the session ends in words: %s", s)
	}
}

var htmlTags = regexp.MustCompile(`<[^>]*>`)

var revokeLabel = regexp.MustCompile(`data-testid="revoke-session" aria-label="([^"]*)"`)

// Two sessions from the same browser type and address are told apart: the
// current one is "this device", every row says when it started and shows a
// short session id, and each revoke button has its own accessible name.
func TestIdenticalSessionsAreToldApart(t *testing.T) {
	a, laptop := newTestAppWithUser(t, "pat")
	a.clock.Advance(3 * time.Minute)
	phone := a.mustLogin(t, "pat", goodPassword) // same User-Agent, same address
	body := laptop.get("/sessions").Body.String()

	if n := strings.Count(body, `data-testid="current-session"`); n != 1 || !strings.Contains(body, ">this device</span>") {
		t.Errorf("%d current-session badges, want one reading \"this device\"", n)
	}
	text := htmlTags.ReplaceAllString(body, "")
	for _, b := range []*browser{laptop, phone} {
		s := a.sessionOf(t, b)
		if !strings.Contains(text, "started "+s.CreatedAt.UTC().Format("2006-01-02 15:04:05 MST")+" · id "+s.ID[:8]) {
			t.Errorf("session %s (started %v): its start and short id are not shown in %s", s.ID, s.CreatedAt, text)
		}
	}
	labels := revokeLabel.FindAllStringSubmatch(body, -1)
	if len(labels) != 2 || labels[0][1] == labels[1][1] {
		t.Fatalf("revoke buttons' labels %q, want two different ones", labels)
	}
}
