package e2e

import (
	"strings"
	"testing"
)

// navLinks lists the header navigation's links, by href.
func (b *tab) navLinks() []string {
	b.t.Helper()
	return evalJS[[]string](b, `[...document.querySelectorAll('nav[aria-label="Main"] ul a')].map(a => a.getAttribute("href"))`)
}

func (b *tab) assertLoggedInNav(where string, want bool) {
	b.t.Helper()
	links := strings.Join(b.navLinks(), " ")
	in := strings.Contains(links, "/dashboard") && strings.Contains(links, "/sessions")
	out := strings.Contains(links, "/auth/login") || strings.Contains(links, "/auth/register")
	if want && (!in || out) || !want && (in || !out) {
		b.t.Errorf("%s: header links %q, want the logged-%s ones", where, links, map[bool]string{true: "in", false: "out"}[want])
	}
}

// Someone logged in who opens the login page is told who is logged in, can
// go on to the dashboard or log out, and still has the form to switch
// accounts; the header shows the logged-in links there and on a 404 page,
// which does not show a request id.
func TestLoggedInVisitorOnLoginAndErrorPages(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.register("ada")

	b.open("/auth/login")
	b.waitPage("/auth/login", `[data-testid="logged-in-as"]`)
	b.assertLoggedInNav("login page", true)
	if got := b.text(`[data-testid="logged-in-as"]`); !strings.Contains(got, "You are logged in as ada") {
		t.Errorf("login page says %q, want who is logged in", got)
	}
	if !evalJS[bool](b, `!!document.querySelector('form[data-testid="login-form"] #username')`) {
		t.Error("the login form is gone: no way to switch accounts")
	}

	b.open("/no-such-page")
	b.waitPage("/no-such-page", `[data-testid="error-message"]`)
	b.assertLoggedInNav("404 page", true)
	if body := evalJS[string](b, `document.body.innerText`); strings.Contains(strings.ToLower(body), "request id") {
		t.Errorf("the 404 page shows a request id:\n%s", body)
	}

	b.open("/auth/login")
	b.click(`[data-testid="continue-as"]`)
	b.waitPage("/dashboard", `[data-testid="username"]`)

	b.open("/auth/login")
	b.click(`[data-testid="login-logout"]`)
	b.waitPage("/auth/login", `[data-testid="notice"]`)
	if notice := b.text(`[data-testid="notice"]`); notice != "You have logged out." {
		t.Errorf("after the login page's logout the notice is %q", notice)
	}
	b.assertLoggedInNav("login page after logging out", false)
	if evalJS[bool](b, `!!document.querySelector('[data-testid="logged-in-as"]')`) {
		t.Error("after logging out the login page still says who is logged in")
	}
}

// An anonymous visitor sent to the login page by /dashboard reads why.
func TestLoginPageSaysLogInToContinue(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.open("/dashboard")
	b.waitPage("/auth/login", `[data-testid="login-to-continue"]`)
	if got := b.text(`[data-testid="login-to-continue"]`); got != "Log in to continue to /dashboard." {
		t.Errorf("login page says %q", got)
	}
	b.assertLoggedInNav("anonymous login page", false)
}

// Two sessions from the same browser and address are told apart on the
// sessions page, and on a phone each is a card with every field visible:
// "Last refresh", "Ends" and the Revoke button included.
func TestSessionsFromTheSameBrowserAreToldApart(t *testing.T) {
	srv := startServer(t)
	srv.createUser(t, "radia")
	laptop := newBrowser(t, srv)
	laptop.logInToDashboard("radia")
	phone := laptop.newSeparateProfile() // same User-Agent, same address
	phone.logInToDashboard("radia")

	laptop.open("/sessions")
	laptop.waitPage("/sessions", `[data-testid="current-session"]`)
	rows := evalJS[[]string](laptop, `[...document.querySelectorAll("tr[data-session]")].map(tr => tr.cells[0].innerText)`)
	if len(rows) != 2 || rows[0] == rows[1] {
		t.Fatalf("the sessions read %q, want two that differ", rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, "started ") {
			t.Errorf("session %q does not say when it started", r)
		}
	}
	if got := laptop.text(`[data-testid="current-session"]`); got != "this device" {
		t.Errorf("current session badge %q, want this device", got)
	}

	laptop.emulateWidth(phoneWidth)
	laptop.open("/sessions")
	laptop.waitPage("/sessions", `[data-testid="current-session"]`)
	type cell struct {
		Label   string  `json:"label"`
		Right   float64 `json:"right"`
		Display string  `json:"display"`
	}
	cells := evalJS[[]cell](laptop, `[...document.querySelectorAll("tr[data-session]")[0].cells].map(td => ({
		label: getComputedStyle(td, "::before").content, right: td.getBoundingClientRect().right,
		display: getComputedStyle(td.parentElement).display}))`)
	var labels []string
	for _, c := range cells {
		labels = append(labels, c.Label)
		if c.Right > phoneWidth || c.Display != "block" {
			t.Errorf("at %dpx a session field ends at %.0fpx, its row displays as %q; want cards within the screen", phoneWidth, c.Right, c.Display)
		}
	}
	for _, want := range []string{`"Last refresh"`, `"Ends"`} {
		if !strings.Contains(strings.Join(labels, " "), want) {
			t.Errorf("the session card does not label %s: %q", want, labels)
		}
	}
	if !evalJS[bool](laptop, `(b => { const r = b.getBoundingClientRect(); return r.width > 0 && r.right <= innerWidth; })(document.querySelector('[data-testid="revoke-session"]'))`) {
		t.Error("the Revoke button is not on screen at phone width")
	}
}
