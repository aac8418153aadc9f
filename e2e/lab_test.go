package e2e

import (
	"strings"
	"testing"
	"time"

	"tokenflow/tokens"
)

// The token lab in a real browser: two edits made by the page's own
// script (HS256 signed with the public JWK through WebCrypto, and alg
// none), each refused by the check the page names, beside the unchanged
// lab token that passes; then the unchanged token expires on the server's
// clock; then "log out everywhere" leaves a lab token that still verifies.
func TestLabShowsWhichCheckRefusedAnEdit(t *testing.T) {
	srv := startServer(t, map[string]string{"ACCESS_TOKEN_TTL": "1m"})
	b := newBrowser(t, srv)
	b.register("hopper")
	b.open("/lab")
	b.waitPage("/lab", `[data-testid="lab-mint"]`)
	b.click(`[data-testid="lab-mint"]`)
	b.waitTrue("the lab token in the editor", `!document.getElementById("lab-editor").hidden && document.getElementById("lab-signature").value !== ""`)

	send := func() (edited, original string) {
		t.Helper()
		b.click(`[data-testid="lab-send"]`)
		edited = b.waitAttr(`[data-testid="lab-result-edited"]`, "data-verdict")
		original = b.waitAttr(`[data-testid="lab-result-original"]`, "data-verdict")
		return edited, original
	}

	b.click(`[data-testid="edit-hs256"]`)
	b.waitTrue("the HS256 signature", `JSON.parse(document.getElementById("lab-header").value).alg === "HS256" && document.getElementById("lab-signature").value.length === 43`)
	if edited, original := send(); edited != "refused" || original != "valid" {
		t.Fatalf("HS256 with the public key: edit %s, unchanged %s", edited, original)
	}
	if check := b.waitAttr(`[data-testid="lab-result-edited"]`, "data-check"); check != "key and algorithm" {
		t.Errorf("HS256 with the public key refused by %q", check)
	}
	if got := b.text(`[data-testid="lab-result-edited"]`); !strings.Contains(got, "is not the key's ES256") || !strings.Contains(got, "the access token is invalid") || !strings.Contains(got, "Lab: key and algorithm") {
		t.Errorf("HS256 verdict does not give the reason, the error_description and the README section: %q", got)
	}

	b.click(`[data-testid="edit-reset"]`)
	b.click(`[data-testid="edit-none"]`)
	b.waitTrue("alg none", `JSON.parse(document.getElementById("lab-header").value).alg === "none" && document.getElementById("lab-signature").value === ""`)
	if edited, original := send(); edited != "refused" || original != "valid" {
		t.Fatalf("alg none: edit %s, unchanged %s", edited, original)
	}
	if got := b.text(`[data-testid="lab-result-edited"]`); !strings.Contains(got, "signing method none is invalid") {
		t.Errorf("alg none verdict: %q", got)
	}
	if size := b.text(`[data-testid="lab-size"]`); !strings.Contains(size, "a cookie holds 4096") {
		t.Errorf("size line %q", size)
	}

	srv.clock.Advance(tokens.LabTokenTTL + time.Second)
	send()
	if check := b.waitAttr(`[data-testid="lab-result-original"]`, "data-check"); check != "expiry (exp)" {
		t.Errorf("the unchanged token after its exp was refused by %q", check)
	}

	// A fresh lab token, then log out everywhere: the session is gone
	// from the store and the cookies are cleared, but the token verifies
	// until its exp.
	b.click(`[data-testid="lab-mint"]`)
	b.waitTrue("a fresh lab token", `!document.querySelector('[data-testid="lab-result-original"]').hasAttribute("data-verdict")`)
	b.click(`[data-testid="lab-logout-everywhere"]`)
	if v := b.waitAttr(`[data-testid="recall-lab"]`, "data-verdict"); v != "valid" {
		t.Errorf("lab token after log out everywhere: %s, want still valid", v)
	}
	b.waitTrue("/api/me refused", `(document.querySelector('[data-testid="recall-me"]')?.textContent ?? "").indexOf(": 401") > 0`)
	if n := srv.status(t, "/lab"); n == 200 {
		t.Errorf("GET /lab without cookies = %d", n)
	}
}
