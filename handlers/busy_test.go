package handlers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/auth"
	"tokenflow/store"
)

// stalledPasswords is a hasher whose every slot is taken while stalled is
// set: each call waits for its context, as password.Hasher does. A call
// whose context has no deadline would wait for ever; it gives up after a
// few seconds instead, with an error that fails the test as a 500.
type stalledPasswords struct {
	checksWaiting
	stalled  atomic.Bool
	deadline atomic.Int64 // the last call's time to its deadline, in ns
}

var errWaitedWithoutDeadline = errors.New("test: waited for a hashing slot without a deadline")

// wrap puts p in front of the app's hasher (an edit for newTestApp).
func (p *stalledPasswords) wrap(d *testDeps) {
	p.checksWaiting = checksWaiting{Passwords: d.Passwords, before: p.wait}
	d.Passwords = p
}

func (p *stalledPasswords) wait(ctx context.Context) error {
	if !p.stalled.Load() {
		return nil
	}
	if d, ok := ctx.Deadline(); ok {
		p.deadline.Store(int64(time.Until(d)))
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(3 * time.Second):
		return errWaitedWithoutDeadline
	}
}

func (p *stalledPasswords) Hash(ctx context.Context, pw string) (string, error) {
	if err := p.wait(ctx); err != nil {
		return "", err
	}
	return p.Passwords.Hash(ctx, pw)
}

// checksWaiting runs before ahead of every password check, and gives up
// the check with its error.
type checksWaiting struct {
	auth.Passwords
	before func(ctx context.Context) error
}

func (p checksWaiting) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	if err := p.before(ctx); err != nil {
		return false, err
	}
	return p.Passwords.Verify(ctx, pw, encoded)
}

func (p checksWaiting) VerifyDummy(ctx context.Context, pw string) {
	if p.before(ctx) == nil {
		p.Passwords.VerifyDummy(ctx, pw)
	}
}

// assertBusy: 503, Retry-After, the busy message on the form, no cookies.
func assertBusy(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After %q, want 5", got)
	}
	if !strings.Contains(w.Body.String(), "The server is busy; try again in a moment.") {
		t.Errorf("the form lacks the busy message: %.500s", w.Body.String())
	}
	if len(w.Result().Cookies()) > 0 {
		t.Error("a busy answer set cookies")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}
}

// When no hashing slot comes free in time, login and registration answer
// 503 at once instead of queueing without limit, and the attempt costs the
// caller nothing in the throttle.
func TestHashingWaitIsBounded(t *testing.T) {
	pw := &stalledPasswords{}
	var logs bytes.Buffer
	app := newTestApp(t, pw.wrap, func(d *testDeps) {
		d.hashWait = 50 * time.Millisecond
		d.Settings.Limits.Registrations = 2
		d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	registerUnlessBusy(t, app, "busyuser")
	pw.stalled.Store(true)

	t.Run("login, known user", func(t *testing.T) {
		for range 6 { // more than LoginFailureLimit: none may count
			start := time.Now()
			assertBusy(t, login(app, "busyuser", throttlePW))
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("the answer took %v", d)
			}
		}
	})
	t.Run("login, unknown user", func(t *testing.T) {
		assertBusy(t, login(app, "nosuchuser", "some password"))
	})
	t.Run("register", func(t *testing.T) {
		for range 3 { // more than RegisterRateLimit: none may count
			w := app.browser().post("/auth/register", url.Values{
				"username": {"newbie"}, "password": {throttlePW}, "password_confirm": {throttlePW}})
			assertBusy(t, w)
		}
		if _, err := app.store.UserByUsername(context.Background(), "newbie"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the user was created anyway: %v", err)
		}
	})
	if d := time.Duration(pw.deadline.Load()); d <= 0 || d > 50*time.Millisecond {
		t.Errorf("the hashing context's deadline was %v away, want within the 50ms wait", d)
	}
	if !strings.Contains(logs.String(), "no password hashing slot in time") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log: %s", logs.String())
	}

	pw.stalled.Store(false)
	t.Run("busy answers did not count as failures", func(t *testing.T) {
		assertStatus(t, unlessBusy(t, func() *httptest.ResponseRecorder { return login(app, "busyuser", throttlePW) }), http.StatusSeeOther)
		registerUnlessBusy(t, app, "newbie")
	})
}

// A client that goes away mid-login is no server error: 499, no body, no
// error in the log.
func TestClientGoneIsNotAnError(t *testing.T) {
	pw := &stalledPasswords{}
	var logs bytes.Buffer
	app := newTestApp(t, pw.wrap, func(d *testDeps) {
		d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	app.mustRegister(t, "leaver", throttlePW)
	pw.stalled.Store(true) // the client leaves while waiting for a slot

	for _, name := range []string{"leaver", "nosuchuser"} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			ctx, cancel := context.WithCancel(context.Background())
			r := httptest.NewRequest(http.MethodPost, "/auth/login",
				strings.NewReader(url.Values{"username": {name}, "password": {throttlePW}}.Encode())).WithContext(ctx)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = "203.0.113.9:1"
			time.AfterFunc(20*time.Millisecond, cancel)
			w := httptest.NewRecorder()
			app.e.ServeHTTP(w, r)
			if w.Code != 499 || w.Body.Len() != 0 {
				t.Fatalf("status %d, body %q; want 499 without a body", w.Code, w.Body.String())
			}
			out := logs.String()
			if strings.Contains(out, "level=ERROR") || !strings.Contains(out, "status=499") {
				t.Errorf("log: %s", out)
			}
		})
	}
	pw.stalled.Store(false)
	// The abandoned attempts were not counted as failures.
	for range 4 {
		login(app, "leaver", "wrong")
	}
	assertStatus(t, login(app, "leaver", throttlePW), http.StatusSeeOther)

	t.Run("an internal cancellation is still a 500", func(t *testing.T) {
		var logs bytes.Buffer
		app := newTestApp(t, func(d *testDeps) {
			d.Store = cancelledStore{testStore: d.Store}
			d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		w := login(app, "someone", "a password")
		if w.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("status %d, log %s", w.Code, logs.String())
		}
	})
}

// cancelledStore fails lookups with context.Canceled while the request
// itself is alive: a bug of ours, not a client that left.
type cancelledStore struct{ testStore }

func (cancelledStore) UserByUsername(context.Context, string) (store.User, error) {
	return store.User{}, context.Canceled
}
