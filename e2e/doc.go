// Package e2e holds tokenflow's browser tests: they start the real server
// with app.Run (the constructor main uses) and drive headless Chromium
// through the DevTools protocol with chromedp, to prove what only a real
// browser can show: HttpOnly cookies out of reach of page scripts, the
// refresh interstitial, refresh-on-401 in fetch, logout across tabs, refresh
// token reuse detection, the no-script fallback and basic accessibility.
//
// Run them with `go test ./e2e/ -v`. Without Chromium on PATH they skip
// and TestMain says so in one line (install it with
// `apt-get install -y chromium`); with CI=true a missing Chromium fails.
// UPDATE_SCREENSHOTS=1 also writes the README's screenshots to docs/.
package e2e
