package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// phoneWidth is the narrowest layout docs/ARCHITECTURE.md promises to support.
const phoneWidth = 375

// a11yProblems is a JS function, run in the page with the viewport width,
// that lists what breaks the checks: form controls without a label, images
// without alt, not exactly one h1, a page wider than the viewport, and any
// element whose content is wider than its box: content that spills out, or
// that hides behind a sideways scroll inside a card, as a table in an
// overflow-x: auto box would. Exempt are boxes with no width of their own
// (inline elements, display: none) and the visually hidden texts, which are
// 1px boxes on purpose. Code blocks wrap (pre-wrap), so they need no
// exemption.
const a11yProblems = `(maxWidth => {
	const problems = [];
	const short = el => el.outerHTML.slice(0, 120);
	for (const el of document.querySelectorAll("input, select, textarea")) {
		if (el.type === "hidden") continue;
		const named = (el.labels && el.labels.length > 0) ||
			(el.getAttribute("aria-label") || "").trim() !== "" ||
			(el.getAttribute("aria-labelledby") || "").trim() !== "";
		if (!named) problems.push("form control without a label: " + short(el));
	}
	for (const img of document.querySelectorAll("img")) {
		if (!img.hasAttribute("alt")) problems.push("img without alt: " + short(img));
	}
	const h1 = document.querySelectorAll("h1").length;
	if (h1 !== 1) problems.push(h1 + " h1 elements, want exactly 1");
	const width = document.documentElement.scrollWidth;
	if (width > maxWidth) {
		const wide = [...document.querySelectorAll("body *")]
			.filter(el => el.getBoundingClientRect().right > maxWidth)
			.slice(-3).map(short);
		problems.push("scrolls sideways at " + maxWidth + "px: scrollWidth " + width + "; widest: " + wide.join(" | "));
	}
	for (const el of document.querySelectorAll("body *")) {
		if (el.clientWidth === 0 || el.closest(".visually-hidden")) continue;
		// scrollWidth and clientWidth are whole pixels, rounded apart.
		if (el.scrollWidth > el.clientWidth + 1) {
			problems.push("content wider than its box at " + maxWidth + "px (scrollWidth " + el.scrollWidth +
				", clientWidth " + el.clientWidth + "): " + short(el));
		}
	}
	return problems;
})`

// Every page, anonymous and logged in, the interstitial included, passes
// basic accessibility checks at a phone's width of 375px.
func TestEveryPageIsLabelledAndFitsPhoneWidth(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.emulateWidth(phoneWidth)

	check := func(name, path, sel string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			b := &tab{t: t, ctx: b.ctx, srv: srv}
			b.waitPage(path, sel)
			// A mobile viewport zooms out to fit content that is too
			// wide, so a wider innerWidth is a sideways scroll too; the
			// script below names the elements.
			if w := evalJS[int](b, `window.innerWidth`); w != phoneWidth {
				t.Errorf("the page is laid out %dpx wide, not %d", w, phoneWidth)
			}
			for _, p := range evalJS[[]string](b, fmt.Sprintf("(%s)(%d)", a11yProblems, phoneWidth)) {
				t.Error(p)
			}
		})
	}

	anonymous := []struct{ name, path, sel string }{
		{"landing", "/", "h1"},
		{"login", "/auth/login", `form[data-testid="login-form"]`},
		{"register", "/auth/register", `form[data-testid="register-form"]`},
	}
	if code := srv.status(t, "/how-it-works"); code == http.StatusOK {
		anonymous = append(anonymous, struct{ name, path, sel string }{"how-it-works", "/how-it-works", "h1"})
	} else {
		t.Logf("skipping /how-it-works: status %d", code)
	}
	for _, p := range anonymous {
		b.open(p.path)
		check(p.name, p.path, p.sel)
	}

	b.register("audre")
	check("dashboard", "/dashboard", `[data-testid="username"]`)
	b.open("/sessions")
	check("sessions", "/sessions", `[data-testid="sessions"]`)
	b.open("/lab")
	check("lab", "/lab", `[data-testid="lab-mint"]`)
	b.click(`[data-testid="lab-mint"]`)
	b.waitTrue("the lab token", `document.getElementById("lab-signature").value !== ""`)
	b.click(`[data-testid="edit-grow"]`)
	b.click(`[data-testid="lab-send"]`)
	b.waitAttr(`[data-testid="lab-result-original"]`, "data-verdict")
	check("lab with a verdict", "/lab", `[data-testid="lab-result-edited"][data-verdict]`)
	b.open("/")
	check("landing logged in", "/", "h1")

	// The interstitial: a token that fails verification, and no script,
	// so the page stays (with its no-script button) to be checked.
	b.disableScripts(true)
	b.setAccessCookie("eyJhbGciOiJIUzI1NiJ9.e30.not-a-signature")
	b.open("/dashboard")
	check("interstitial", "/dashboard", `[data-testid="interstitial"] [data-testid="continue"]`)
}

// emulateWidth makes the viewport a phone's: width px wide, mobile layout
// (the viewport meta tag applies).
func (b *tab) emulateWidth(width int64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: 812, DeviceScaleFactor: 1, Mobile: true,
	})
	if err != nil {
		b.t.Fatalf("Emulation.setDeviceMetricsOverride: %v", err)
	}
}
