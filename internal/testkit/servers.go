package testkit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a server that Start runs in the test's process.
type Server struct {
	// URL is what the server passed to ready: its base URL.
	URL  string
	stop func() error
}

// Start runs run, a server shaped like app.Run (it calls ready with its
// base URL once it listens and returns when ctx ends), until Stop or the
// end of the test, and returns once it listens. A server that returns
// before it listens, or does not listen within 30 s, fails the test; so
// does one that returns an error when the test's cleanup stops it.
func Start(t testing.TB, name string, run func(ctx context.Context, ready func(url string)) error) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(u string) { ready <- u }) }()
	var once sync.Once
	var err error
	s := &Server{stop: func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = fmt.Errorf("%s did not return within 20s of cancel", name)
			}
		})
		return err
	}}
	select {
	case s.URL = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("%s returned before listening: %v", name, err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("%s did not listen within 30s", name)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	})
	return s
}

// Stop cancels the server's context and returns what run returned; a
// second call returns the same.
func (s *Server) Stop() error { return s.stop() }

// childEnv marks the test binary started by ChildCommand.
const childEnv = "TOKENFLOW_TEST_CHILD"

// ServeIfChild belongs at the top of TestMain. In a test binary that
// ChildCommand started, it runs serve (app.Run, as main runs it) until
// SIGINT or SIGTERM and exits; otherwise it returns at once. A child is
// how a test kills a server with SIGKILL or sends it SIGTERM, which a
// server in the test's own process cannot take.
func ServeIfChild(serve func(ctx context.Context) error) {
	if os.Getenv(childEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx); err != nil {
		os.Stderr.WriteString("tokenflow: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// ChildCommand is the test binary again, to serve (see ServeIfChild) with
// vars added to the test's environment; it runs no tests.
func ChildCommand(vars map[string]string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// Child is a server started by StartChild.
type Child struct {
	Cmd *exec.Cmd
	// URL is the base URL of its "listening on URL" line.
	URL string
	// Printed is what it wrote to stdout up to that line.
	Printed string
}

// StartChild starts ChildCommand(vars) and returns once it printed its
// "listening on URL" line; it is killed when the test ends.
func StartChild(t testing.TB, vars map[string]string) *Child {
	t.Helper()
	cmd := ChildCommand(vars)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var printed strings.Builder
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if _, u, ok := strings.Cut(lines.Text(), "listening on "); ok {
			go func() {
				for lines.Scan() {
				}
			}()
			return &Child{Cmd: cmd, URL: u, Printed: printed.String()}
		}
	}
	t.Fatalf("child server printed no URL:\n%s", printed.String())
	return nil
}

// Process is an installed program (Apache, HAProxy) started by
// StartProcess.
type Process struct {
	name   string
	exited chan struct{}
	// Output is what it wrote to stdout and stderr.
	Output *SyncBuffer
}

// StartProcess starts cmd, with its stdout and stderr going to Output.
// When the test ends it gets SIGTERM (a server's parent stops its own
// children), then SIGKILL if it has not exited after 10 s; a failed
// test logs its output.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{name: name, exited: make(chan struct{}), Output: &SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output)
		}
	})
	return p
}

// WaitReady polls ready until it holds; the process exiting first, or 20 s
// passing, fails the test (and StartProcess's cleanup logs its output).
func (p *Process) WaitReady(t testing.TB, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ready() {
		select {
		case <-p.exited:
			t.Fatalf("%s exited", p.name)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready after 20s", p.name)
		}
	}
}
