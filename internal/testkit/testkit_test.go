package testkit

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The helper the child run below calls: a tool that is never there.
func TestMissingToolHelper(t *testing.T) {
	if os.Getenv("TESTKIT_MISSING_CHILD") != "1" {
		t.Skip("run by TestMissingSkipsOrFailsUnderCI")
	}
	RequireTool(t, "no-such-tool", "apt-get install -y no-such-tool", "no-such-tool-on-any-path")
	t.Error("RequireTool returned for a missing tool")
}

// Outside CI a missing tool skips the test with one line saying how to get
// it; under CI=true the same test fails.
func TestMissingSkipsOrFailsUnderCI(t *testing.T) {
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.v", "-test.count=1", "-test.run=^TestMissingToolHelper$")
		cmd.Env = append(os.Environ(), "TESTKIT_MISSING_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP") || !strings.Contains(out, "no-such-tool is not installed; to run this test: apt-get install -y no-such-tool") {
		t.Errorf("outside CI: err = %v, want a skip that says how to install the tool:\n%s", err, out)
	}
	out, err = run("true")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(out, "--- FAIL") || !strings.Contains(out, "apt-get install -y no-such-tool") {
		t.Errorf("under CI=true: err = %v, want a failure that says how to install the tool:\n%s", err, out)
	}
}

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	c := NewClock(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now() = %v, want %v", c.Now(), start)
	}
	c.Advance(time.Minute)
	c.Advance(-10 * time.Second)
	if want := start.Add(50 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after +1m -10s Now() = %v, want %v", c.Now(), want)
	}
	wall := WallClock()
	wall.Advance(time.Hour)
	if d := wall.Now().Sub(time.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("WallClock advanced by an hour is %v from the wall clock", d)
	}
}
