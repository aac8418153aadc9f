package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashboardState is what the dashboard shows about the access token, read
// from the page.
type dashboardState struct {
	AccessText    string `json:"accessText"`
	AccessAt      string `json:"accessAt"`
	Countdown     string `json:"countdown"`
	CountdownAt   string `json:"countdownAt"`
	JTI           string `json:"jti"`
	Exp           string `json:"exp"`
	Payload       string `json:"payload"`
	Refreshes     int    `json:"refreshes"`
	Events        int    `json:"events"`
	SameDocument  bool   `json:"sameDocument"`
	PageSignature string `json:"pageSignature"`
}

const readDashboard = `(() => {
	const q = sel => document.querySelector(sel);
	const text = sel => (q(sel)?.textContent ?? "").trim();
	return {
		accessText: text('[data-testid="access-expires"]'),
		accessAt: q('[data-testid="access-expires"]')?.getAttribute("datetime") ?? "",
		countdown: text('[data-testid="access-countdown"]'),
		countdownAt: q('[data-testid="access-countdown"]')?.getAttribute("data-countdown") ?? "",
		jti: text('[data-claim="jti"] [data-testid="claim-value"]'),
		exp: text('[data-claim="exp"] [data-testid="claim-value"]'),
		payload: text('[data-testid="jwt-payload"]'),
		refreshes: document.querySelectorAll('[data-testid="timeline"] .event-refresh').length,
		events: document.querySelectorAll('[data-testid="timeline"] li').length,
		sameDocument: window.tokenflowTestMarker === true,
		pageSignature: text('[data-testid="jwt"] .jwt-signature'),
	};
})()`

func (b *tab) dashboard() dashboardState {
	b.t.Helper()
	return evalJS[dashboardState](b, readDashboard)
}

// waitTrue polls a JS expression until it is true.
func (b *tab) waitTrue(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %v for %s (last error %v, page %s)", waitTimeout, what, err, b.where())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The showcase: "Expire my access token now" marks the token expired in
// place, then "Call the API" refreshes it, and the page follows without a
// reload: the expiry and its countdown, the inspector (a new jti and exp)
// and the timeline (a "Refreshed" line). The signature on the page is only
// a preview, never the cookie's.
func TestDashboardFollowsARefreshInPlace(t *testing.T) {
	// Minute-long tokens: the fresh countdown must not run out before it
	// is read.
	srv := startServer(t, map[string]string{"ACCESS_TOKEN_TTL": "1m"})
	b := newBrowser(t, srv)
	b.register("lovelace")
	first := b.dashboard()
	if first.Refreshes != 0 || !strings.HasPrefix(first.Countdown, "(in ") {
		t.Fatalf("fresh dashboard: %+v", first)
	}
	evalJS[bool](b, `window.tokenflowTestMarker = true`)

	b.click(`[data-testid="expire-access"]`)
	b.waitTrue("the expired token on the page", `document.querySelector('[data-testid="access-countdown"]').textContent === "(expired)"`)
	expired := b.dashboard()
	if !expired.SameDocument {
		t.Fatal("expiring the token reloaded the page")
	}
	if expired.JTI == first.JTI || expired.Exp == first.Exp || expired.AccessText == first.AccessText {
		t.Errorf("after expiring, the page still describes the old token: %+v", expired)
	}

	b.click("#call-api")
	if got := b.waitAttr("#api-log", "data-refreshed"); got != "true" {
		t.Fatalf("the API call did not refresh: data-refreshed %q", got)
	}
	b.waitTrue("the refreshed token on the page", fmt.Sprintf(
		`document.querySelector('[data-claim="jti"] [data-testid="claim-value"]').textContent.trim() !== %q`, expired.JTI))
	after := b.dashboard()
	if !after.SameDocument {
		t.Fatal("the refresh reloaded the page")
	}
	if after.JTI == first.JTI || after.Exp == expired.Exp || after.Payload == expired.Payload {
		t.Errorf("inspector after the refresh: jti %q exp %q, want new ones (expired token: jti %q exp %q)", after.JTI, after.Exp, expired.JTI, expired.Exp)
	}
	if after.AccessText == expired.AccessText || after.AccessAt == expired.AccessAt || after.CountdownAt != after.AccessAt {
		t.Errorf("access expiry after the refresh: %q (%s), countdown to %s; expired token's: %q", after.AccessText, after.AccessAt, after.CountdownAt, expired.AccessText)
	}
	if !strings.HasPrefix(after.Countdown, "(in ") {
		t.Errorf("countdown after the refresh %q, want (in …)", after.Countdown)
	}
	if after.Refreshes != 1 || after.Events != expired.Events+1 {
		t.Errorf("timeline: %d refresh lines of %d, want 1 of %d", after.Refreshes, after.Events, expired.Events+1)
	}
	if sig := b.cookieValue(accessCookie); strings.HasSuffix(sig, after.PageSignature) || !strings.HasSuffix(after.PageSignature, "…") {
		t.Errorf("the page shows the signature %q; want only a shortened preview", after.PageSignature)
	}
}

// Countdowns follow the same rule as the server's Go code: the shared table
// views/testdata/remaining.json, and a fresh seven-day session reads "in 7
// days" both as the server rendered it (no script) and once app.js ticks.
func TestCountdownsReadAsHumanDurations(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "views", "testdata", "remaining.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name string `json:"name"`
		MS   int64  `json:"ms"`
		Want string `json:"want"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, map[string]string{"REFRESH_TOKEN_TTL": "168h", "SESSION_MAX_AGE": "720h", "ACCESS_TOKEN_TTL": "5m"})
	b := newBrowser(t, srv)
	b.register("hopper")
	for _, tc := range cases {
		if got := evalJS[string](b, fmt.Sprintf("window.tokenflow.remainingText(%d)", tc.MS)); got != tc.Want {
			t.Errorf("%s: remainingText(%d) = %q, want %q", tc.Name, tc.MS, got, tc.Want)
		}
	}
	if got := b.text(`[data-testid="session-countdown"]`); got != "(in 7 days)" {
		t.Errorf("session countdown with the script: %q, want (in 7 days)", got)
	}
	b.disableScripts(true)
	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="session-countdown"]`)
	if got := b.text(`[data-testid="session-countdown"]`); got != "(in 7 days)" {
		t.Errorf("session countdown as the server rendered it: %q, want (in 7 days)", got)
	}
	// Some seconds of the five minutes have passed by now.
	if got := b.text(`[data-testid="access-countdown"]`); !regexp.MustCompile(`^\(in (5 minutes|4 minutes \d+ seconds?)\)$`).MatchString(got) {
		t.Errorf("access countdown as the server rendered it: %q, want (in 4 minutes … seconds)", got)
	}
}
