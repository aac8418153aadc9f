package auth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingObserver records every call, as "login ok", "revoked logout 1".
type countingObserver struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *countingObserver) add(key string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = map[string]int{}
	}
	o.counts[key] += n
}
func (o *countingObserver) LoginFinished(x LoginOutcome)     { o.add("login "+string(x), 1) }
func (o *countingObserver) RefreshFinished(x RefreshOutcome) { o.add("refresh "+string(x), 1) }
func (o *countingObserver) SessionsRevoked(reason string, n int) {
	o.add("revoked "+reason, n)
}

func (o *countingObserver) snapshot() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for k, v := range o.counts {
		out[k] = v
	}
	return out
}

// Each outcome the metrics promise is reported once, with its own label,
// and revocations carry their reason: a reuse (theft) must not hide among
// logouts.
func TestObserverSeesEveryOutcome(t *testing.T) {
	obs := &countingObserver{}
	f := newFixture(t, func(d *Deps) { d.Observer = obs })
	ctx := context.Background()
	first := f.register(t, "ada")

	f.svc.Login(ctx, "ada", pw, client)               // login ok
	f.svc.Login(ctx, "ada", "wrong password", client) // login failed
	f.svc.Login(ctx, "nobody", "guess", client)       // login failed
	f.svc.Login(ctx, "ada", "wrong password", client) // login failed
	f.svc.Login(ctx, "ada", "wrong password", client) // login failed: ada's third
	f.svc.Login(ctx, "ada", pw, client)               // login throttled

	second, err := f.svc.Refresh(ctx, first.RefreshToken, client) // refresh ok
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Refresh(ctx, "not a token", client) // refresh invalid
	for range 5 {
		f.svc.Refresh(ctx, second.RefreshToken, client) // ok, grace three times, then rate_limited
	}
	f.clock.Advance(time.Minute)
	f.svc.Refresh(ctx, first.RefreshToken, client)  // refresh reused: revoked reuse_detected 1
	f.svc.Refresh(ctx, second.RefreshToken, client) // refresh revoked

	other := f.register(t, "bob")
	if err := f.svc.Logout(ctx, other.Session, ScopeLocal, client); err != nil { // revoked logout 1
		t.Fatal(err)
	}
	if err := f.svc.RevokeSession(ctx, other.Session.UserID, other.Session.ID, "no-such-session", client); err == nil {
		t.Fatal("revoking a missing session succeeded")
	}

	got := obs.snapshot()
	want := map[string]int{
		"login ok": 1, "login failed": 4, "login throttled": 1,
		"refresh ok": 1 + 1, "refresh grace": 3, "refresh rate_limited": 1, "refresh invalid": 1,
		"refresh reused": 1, "refresh revoked": 1,
		"revoked reuse_detected": 1, "revoked logout": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed\n %v\nwant\n %v", got, want)
	}
}

func TestObserverSeesBusy(t *testing.T) {
	obs := &countingObserver{}
	f := newFixture(t, func(d *Deps) {
		d.Observer = obs
		d.Passwords = stalledPasswords{}
		d.Config.HashWait = time.Millisecond
	})
	f.svc.Login(context.Background(), "ada", pw, client)
	if got := obs.snapshot(); got["login busy"] != 1 {
		t.Errorf("observed %v, want one busy login", got)
	}
}

// A replay forgiven inside the grace window is counted grace, not ok: the
// verdict comes out of the rotation policy itself (Result.Grace), and the
// replay really is forgiven (a working pair comes back).
func TestObserverCountsAGraceReplayAsGrace(t *testing.T) {
	obs := &countingObserver{}
	f := newFixture(t, func(d *Deps) { d.Observer = obs })
	ctx := context.Background()
	first := f.register(t, "ada")
	rotated, err := f.svc.Refresh(ctx, first.RefreshToken, client)
	if err != nil || rotated.Grace {
		t.Fatalf("first refresh: grace %v, %v", rotated.Grace, err)
	}
	f.clock.Advance(time.Second) // inside the 10 s window
	replayed, err := f.svc.Refresh(ctx, first.RefreshToken, client)
	if err != nil {
		t.Fatalf("a replay inside the grace window: %v", err)
	}
	if !replayed.Grace {
		t.Error("a forgiven replay's Result.Grace is false")
	}
	if _, err := f.svc.Refresh(ctx, replayed.RefreshToken, client); err != nil {
		t.Fatalf("the forgiven branch's token: %v", err)
	}
	want := map[string]int{"refresh ok": 2, "refresh grace": 1}
	if got := obs.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

// Ending a session that has ended already changes nothing and is counted
// as nothing: a double click on the sessions page, two tabs logging out.
func TestObserverCountsAnEndedSessionOnce(t *testing.T) {
	obs := &countingObserver{}
	f := newFixture(t, func(d *Deps) { d.Observer = obs })
	ctx := context.Background()
	ended := f.register(t, "ada")
	acting, err := f.svc.Login(ctx, "ada", pw, client) // login ok
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.svc.RevokeSession(ctx, ended.Session.UserID, acting.Session.ID, ended.Session.ID, client); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Logout(ctx, ended.Session, ScopeLocal, client); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"login ok": 1, "revoked revoked": 1}
	if got := obs.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %v, want %v (one session, ended once)", got, want)
	}
}
