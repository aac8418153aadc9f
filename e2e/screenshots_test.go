package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// docsDir is where the README's screenshots live, from this package.
var docsDir = filepath.Join("..", "docs")

// With UPDATE_SCREENSHOTS=1, writes the README's screenshots: the login
// page, the dashboard (after a call of the API, with two notes in the notes
// panel and the inspector naming the signing key), the token lab (an HS256
// edit refused beside the unchanged token), the sessions page with two
// devices, and the interstitial (its no-script form, so it stays on
// screen). It runs the stack, so the notes service is there.
func TestScreenshotsForREADME(t *testing.T) {
	if os.Getenv("UPDATE_SCREENSHOTS") != "1" {
		t.Skip("set UPDATE_SCREENSHOTS=1 to write docs/*.png")
	}
	srv := startStack(t)
	srv.createUser(t, "ada")
	b := newBrowser(t, srv)
	b.emulateDesktop(1100, 800)

	b.open("/auth/login?next=/dashboard")
	b.waitPage("/auth/login", `form[data-testid="login-form"]`)
	b.fill(map[string]string{"username": "ada"})
	b.screenshot("login.png")

	b.fill(map[string]string{"password": testPassword})
	b.click(`form[data-testid="login-form"] button[type="submit"]`)
	b.waitPage("/dashboard", `[data-testid="username"]`)
	b.waitNotes("ready", 0)
	b.addNote("Ask the gateway team about JWKS_MAX_AGE")
	b.waitNotes("ready", 1)
	b.addNote("Rotate the signing key on Friday")
	b.waitNotes("ready", 2)
	b.click("#call-api")
	b.waitAttr("#api-log", "data-status")
	b.screenshot("dashboard.png")

	b.open("/lab")
	b.waitPage("/lab", `[data-testid="lab-mint"]`)
	b.click(`[data-testid="lab-mint"]`)
	b.waitTrue("the lab token", `document.getElementById("lab-signature").value !== ""`)
	b.click(`[data-testid="edit-hs256"]`)
	b.waitTrue("the HS256 edit", `JSON.parse(document.getElementById("lab-header").value).alg === "HS256" && document.getElementById("lab-signature").value.length === 43`)
	b.click(`[data-testid="lab-send"]`)
	b.waitAttr(`[data-testid="lab-result-edited"]`, "data-verdict")
	b.waitAttr(`[data-testid="lab-result-original"]`, "data-verdict")
	b.screenshot("lab.png")

	phone := b.newSeparateProfile()
	phone.logInToDashboard("ada")
	b.open("/sessions")
	b.waitPage("/sessions", `[data-testid="current-session"]`)
	b.screenshot("sessions.png")

	srv.expireAccess(t, b.cookieValue(accessCookie))
	b.disableScripts(true)
	b.open("/dashboard")
	b.waitPage("/dashboard", `[data-testid="continue"]`)
	b.screenshot("interstitial.png")
}

// emulateDesktop sets a desktop viewport for screenshots.
func (b *tab) emulateDesktop(width, height int64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1,
	})
	if err != nil {
		b.t.Fatalf("Emulation.setDeviceMetricsOverride: %v", err)
	}
}

// screenshot writes a full-page PNG of the tab to docs/name.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(docsDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("writing %s: %v", path, err)
	}
	b.t.Logf("wrote %s (%d KiB)", path, len(png)>>10)
}
