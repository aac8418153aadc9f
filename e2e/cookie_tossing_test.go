package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
)

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
