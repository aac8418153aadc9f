// Package testkit is what the tests of several packages do the same way:
// run a server in the test's process (Start) or as a child process of the
// test binary (StartChild, ServeIfChild), run an installed program such
// as Apache or HAProxy (StartProcess), skip when a tool is missing and
// fail instead under CI=true (Missing), wait for a condition (WaitFor),
// and read what a running auth server publishes (JWKSKids, BearerStatus).
// Only tests import it; it imports nothing of this module, so the tests
// of any package here can use it.
package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// UnderCI reports whether CI=true is set: there a missing tool or server
// must fail the tests, not let them pass as skipped.
func UnderCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test with why, which says in one line what is missing
// and how to get it; under CI=true it fails the test instead.
func Missing(t testing.TB, why string) {
	t.Helper()
	if UnderCI() {
		t.Fatal(why + " (CI=true: what a test needs must be there)")
	}
	t.Skip(why)
}

// LookPath is the first of names found on PATH (or, for a path, present).
func LookPath(names ...string) (string, bool) {
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path, true
		}
	}
	return "", false
}

// RequireTool is LookPath, or Missing with "<what> is not installed; to run
// this test: <install>".
func RequireTool(t testing.TB, what, install string, names ...string) string {
	t.Helper()
	path, ok := LookPath(names...)
	if !ok {
		Missing(t, what+" is not installed; to run this test: "+install)
	}
	return path
}

// SyncBuffer is a bytes.Buffer that a server may write while the test
// reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor polls cond until it holds. The bound (a minute) only keeps a
// broken run from hanging; no test asserts how long the wait took.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// LogOnFailure logs out (a server's log) at the end of a failed test.
// Called before Start, it also covers a server that fails to start.
func LogOnFailure(t testing.TB, what string, out fmt.Stringer) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s:\n%s", what, out)
		}
	})
}
