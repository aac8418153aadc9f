package e2e

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"tokenflow/internal/testkit"
)

// chromiumMissing is why every test here skips when there is no browser.
const chromiumMissing = "Chromium is not installed, so the browser tests cannot run: install it with `apt-get install -y chromium`, then run them alone with `go test ./e2e/ -v`"

// debianChromium is the browser binary behind Debian's /usr/bin/chromium,
// a wrapper script that prints noise on every start.
const debianChromium = "/usr/lib/chromium/chromium"

// findChromium looks for a browser on PATH (so hiding it from PATH hides
// it from the tests too).
func findChromium() (string, bool) {
	path, ok := testkit.LookPath("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
	if path == "/usr/bin/chromium" {
		if _, err := os.Stat(debianChromium); err == nil {
			return debianChromium, true
		}
	}
	return path, ok
}

// TestMain says once, up front, that the browser tests are about to skip.
// Each test's own skip message shows only with -v, and `go test ./...`
// prints nothing but "ok" for a package whose tests all skipped.
func TestMain(m *testing.M) {
	flag.Parse()
	if _, ok := findChromium(); !ok && !testkit.UnderCI() {
		announceSkip()
	}
	os.Exit(m.Run())
}

// announceSkip writes one line to stderr. go test hides a passing
// package's output unless -v is given, so without -v the same line also
// goes to the terminal itself, when there is one.
func announceSkip() {
	line := "e2e: browser tests skipped. " + chromiumMissing
	fmt.Fprintln(os.Stderr, line)
	if testing.Verbose() {
		return
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprintln(tty, line)
		tty.Close()
	}
}

// A missing browser must not pass unnoticed: outside CI the tests skip and
// one line says so and how to fix it; under CI=true they fail. The child
// is this test binary with PATH emptied, so it finds no browser.
func TestMissingChromiumIsAnnouncedOrFailsUnderCI(t *testing.T) {
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.v", "-test.count=1", "-test.skip=^TestMissingChromiumIsAnnouncedOrFailsUnderCI$")
		cmd.Env = []string{"PATH=", "HOME=" + t.TempDir(), "CI=" + ci}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}

	stderr, err := run("")
	if err != nil {
		t.Fatalf("without a browser and outside CI the tests must skip, not fail: %v\n%s", err, stderr)
	}
	if want := "browser tests skipped"; strings.Count(stderr, want) != 1 || !strings.Contains(stderr, "apt-get install -y chromium") || !strings.Contains(stderr, "go test ./e2e/ -v") {
		t.Errorf("stderr does not say once that the browser tests were skipped and how to get Chromium:\n%s", stderr)
	}

	stderr, err = run("true")
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("with CI=true a missing browser must fail the tests: err = %v\n%s", err, stderr)
	}
}
