package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/password"
	"tokenflow/store"
	"tokenflow/store/sqlite"
	"tokenflow/throttle"
	"tokenflow/tokens"
)

// clock is a settable clock safe for concurrent readers.
type clock struct {
	base   time.Time
	offset atomic.Int64 // nanoseconds after base
}

func newClock(start time.Time) *clock { return &clock{base: start} }

func (c *clock) Now() time.Time          { return c.base.Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// fixture is the service over a real SQLite store in a temporary folder.
type fixture struct {
	svc    *Service
	store  *sqlite.Store
	clock  *clock
	issuer *recordingIssuer
}

// stalledPasswords never gets a hashing slot: every call waits for ctx.
type stalledPasswords struct{}

func (stalledPasswords) Hash(ctx context.Context, _ string) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}
func (stalledPasswords) Verify(ctx context.Context, _, _ string) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}
func (stalledPasswords) VerifyDummy(ctx context.Context, _ string) { <-ctx.Done() }

var client = store.Client{IP: "192.0.2.1", UserAgent: "test"}

const pw = "correct horse battery"

func newFixture(t *testing.T, edit ...func(*Deps)) *fixture {
	t.Helper()
	c := newClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	st := openSQLite(t, c.Now)
	issuer := newRecordingIssuer(t, c.Now)
	d := Deps{
		Store:     st,
		Issuer:    issuer,
		Passwords: password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2),
		Throttle: throttle.New(throttle.NewMemory(throttle.Limits{
			LoginFailures: 3, AddressFailures: 50, Logins: 100, Registrations: 2, AttemptTimeout: MaxHashWait,
		}, nil)),
		Config: testPolicy,
		Now:    c.Now,
	}
	d.Config.RefreshRateLimit, d.Config.MaxSessionsPerUser = 5, 2
	for _, e := range edit {
		e(&d)
	}
	return &fixture{svc: NewService(d), store: st, clock: c, issuer: issuer}
}

// withPasswords is a second service on f's store whose password checks go
// to p, with a hashing wait short enough for p to outlast it.
func (f *fixture) withPasswords(t *testing.T, p Passwords) *fixture {
	t.Helper()
	return newFixture(t, func(d *Deps) {
		d.Store = f.store
		d.Passwords = p
		d.Config.HashWait = 10 * time.Millisecond
	})
}

func (f *fixture) register(t *testing.T, username string) Result {
	t.Helper()
	res, err := f.svc.Register(context.Background(), username, pw, client)
	if err != nil {
		t.Fatalf("register %s: %v", username, err)
	}
	return res
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ada")
	ctx := context.Background()

	t.Run("ok, a session and a pair of tokens", func(t *testing.T) {
		res, err := f.svc.Login(ctx, "ada", pw, client)
		if err != nil {
			t.Fatal(err)
		}
		if res.AccessToken == "" || res.RefreshToken == "" || res.Claims.SessionID != res.Session.ID || res.Claims.Username != "ada" {
			t.Errorf("result %+v", res)
		}
		if !res.AccessExpiresAt().Equal(f.clock.Now().Add(5*time.Minute)) || !res.SessionExpiresAt().Equal(f.clock.Now().Add(time.Hour)) {
			t.Errorf("expiries %v, %v", res.AccessExpiresAt(), res.SessionExpiresAt())
		}
	})
	t.Run("nok, wrong password and unknown user are one error", func(t *testing.T) {
		for _, name := range []string{"ada", "nobody"} {
			if _, err := f.svc.Login(ctx, name, "wrong password", client); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("%s: %v, want ErrBadCredentials", name, err)
			}
		}
	})
	t.Run("nok, guessing is throttled, even with the right password", func(t *testing.T) {
		for range 2 {
			f.svc.Login(ctx, "ada", "wrong password", client)
		}
		_, err := f.svc.Login(ctx, "ADA", pw, client)
		var throttled *ThrottledError
		if !errors.As(err, &throttled) || !errors.Is(err, ErrThrottled) || throttled.RetryAfter != 30*time.Second {
			t.Fatalf("after 3 failures: %v, want *ThrottledError of 30s", err)
		}
		f.clock.Advance(30 * time.Second)
		if _, err := f.svc.Login(ctx, "ada", pw, client); err != nil {
			t.Fatalf("after the wait: %v", err)
		}
	})
	t.Run("a login past the session cap ends the oldest", func(t *testing.T) {
		list, err := f.store.ActiveSessions(ctx, userNamed(t, f, "ada").ID)
		if err != nil || len(list) != 2 {
			t.Fatalf("%d live sessions (%v), want MaxSessionsPerUser=2", len(list), err)
		}
	})
}

func userNamed(t *testing.T, f *fixture, name string) store.User {
	t.Helper()
	u, err := f.store.UserByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// No hashing slot in time is ErrBusy for login and registration, and costs
// the caller nothing in the throttle.
func TestBusy(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ada")
	stalled := f.withPasswords(t, stalledPasswords{})
	ctx := context.Background()
	for range 5 {
		if _, err := stalled.svc.Login(ctx, "ada", "wrong password", client); !errors.Is(err, ErrBusy) {
			t.Fatalf("login: %v, want ErrBusy", err)
		}
		if _, err := stalled.svc.Register(ctx, "bob", pw, client); !errors.Is(err, ErrBusy) {
			t.Fatalf("register: %v, want ErrBusy", err)
		}
	}
	// Registrations: 2 an hour. Five busy ones were taken back.
	stalled.svc.passwords = f.svc.passwords
	if _, err := stalled.svc.Register(ctx, "bob", pw, client); err != nil {
		t.Fatalf("register after busy ones: %v", err)
	}
	if _, err := stalled.svc.Login(ctx, "ada", pw, client); err != nil {
		t.Fatalf("login after busy ones: %v", err)
	}

	t.Run("a client that left is not busy", func(t *testing.T) {
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := f.svc.Login(gone, "ada", pw, client); !errors.Is(err, context.Canceled) || errors.Is(err, ErrBusy) {
			t.Errorf("login: %v, want context.Canceled", err)
		}
	})
}

// lateYesPasswords says yes to every password, but only once the hashing
// wait has run out: a result that came too late.
type lateYesPasswords struct{ stalledPasswords }

func (lateYesPasswords) Verify(ctx context.Context, _, _ string) (bool, error) {
	<-ctx.Done()
	return true, nil
}

// A check that answers after the hashing wait ran out is not acted on, even
// when it says yes: the real path answers as the dummy path does (ErrBusy),
// so the two cannot be told apart by who waits longer.
func TestLoginDropsALateCheck(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ada")
	late := f.withPasswords(t, lateYesPasswords{})
	if res, err := late.svc.Login(context.Background(), "ada", "any password", client); !errors.Is(err, ErrBusy) {
		t.Fatalf("login = %+v, %v; want ErrBusy and no session", res, err)
	}
}

func TestRegister(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.register(t, "ada")
	if _, err := f.svc.Register(ctx, "Ada", pw, client); !errors.Is(err, ErrUsernameTaken) {
		t.Errorf("taken: %v, want ErrUsernameTaken", err)
	}
	var throttled *ThrottledError
	if _, err := f.svc.Register(ctx, "cy", pw, client); !errors.As(err, &throttled) || throttled.RetryAfter != time.Hour {
		t.Errorf("third registration in the hour: %v, want *ThrottledError of 1h", err)
	}
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()

	t.Run("ok, rotates", func(t *testing.T) {
		f := newFixture(t)
		first := f.register(t, "ada")
		f.clock.Advance(time.Minute)
		res, err := f.svc.Refresh(ctx, first.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		if res.RefreshToken == first.RefreshToken || res.Session.ID != first.Session.ID || res.Claims.SessionID != first.Session.ID {
			t.Errorf("not rotated: %+v", res)
		}
		if !res.SessionExpiresAt().Equal(f.clock.Now().Add(time.Hour)) {
			t.Errorf("idle expiry did not slide: %v", res.SessionExpiresAt())
		}
	})
	t.Run("nok, malformed token", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.svc.Refresh(ctx, "not a token", client); !errors.Is(err, ErrInvalidRefreshToken) {
			t.Errorf("%v, want ErrInvalidRefreshToken", err)
		}
	})
	t.Run("nok, unknown token", func(t *testing.T) {
		f := newFixture(t)
		unknown, _, _ := tokens.NewRefreshToken()
		if _, err := f.svc.Refresh(ctx, unknown, client); !errors.Is(err, ErrSessionExpired) {
			t.Errorf("%v, want ErrSessionExpired", err)
		}
	})
	t.Run("nok, idle session expired", func(t *testing.T) {
		f := newFixture(t)
		first := f.register(t, "ada")
		f.clock.Advance(time.Hour + time.Second)
		if _, err := f.svc.Refresh(ctx, first.RefreshToken, client); !errors.Is(err, ErrSessionExpired) {
			t.Errorf("%v, want ErrSessionExpired", err)
		}
	})
	t.Run("nok, reuse after the grace window revokes the session", func(t *testing.T) {
		f := newFixture(t)
		first := f.register(t, "ada")
		second, err := f.svc.Refresh(ctx, first.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(11 * time.Second)
		var reused *RefreshReusedError
		if _, err := f.svc.Refresh(ctx, first.RefreshToken, client); !errors.As(err, &reused) || !errors.Is(err, ErrRefreshReused) || reused.SessionID != first.Session.ID {
			t.Fatalf("stolen copy: %v, want *RefreshReusedError for the session", err)
		}
		var revoked *SessionRevokedError
		_, err = f.svc.Refresh(ctx, second.RefreshToken, client)
		if !errors.As(err, &revoked) || !errors.Is(err, ErrSessionRevoked) || revoked.Reason != store.EventReuseDetected {
			t.Fatalf("owner's current token: %v, want *SessionRevokedError (reuse_detected)", err)
		}
	})
	t.Run("nok, revoked by logout", func(t *testing.T) {
		f := newFixture(t)
		first := f.register(t, "ada")
		if err := f.svc.Logout(ctx, first.Session, ScopeLocal, client); err != nil {
			t.Fatal(err)
		}
		var revoked *SessionRevokedError
		if _, err := f.svc.Refresh(ctx, first.RefreshToken, client); !errors.As(err, &revoked) || revoked.Reason != store.EventLogout {
			t.Errorf("%v, want *SessionRevokedError (logout)", err)
		}
	})
	t.Run("nok, rate limited, and the token stays current", func(t *testing.T) {
		f := newFixture(t)
		current := f.register(t, "ada").RefreshToken
		for i := range 5 {
			res, err := f.svc.Refresh(ctx, current, client)
			if err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
			current = res.RefreshToken
		}
		var limited *RateLimitedError
		_, err := f.svc.Refresh(ctx, current, client)
		if !errors.As(err, &limited) || !errors.Is(err, ErrRateLimited) || limited.RetryAfter <= 0 {
			t.Fatalf("sixth in a minute: %v, want *RateLimitedError", err)
		}
		f.clock.Advance(limited.RetryAfter)
		if _, err := f.svc.Refresh(ctx, current, client); err != nil {
			t.Errorf("after the wait: %v", err)
		}
	})
	t.Run("nok, signing fails: nothing changes", func(t *testing.T) {
		f := newFixture(t)
		first := f.register(t, "ada")
		f.issuer.fail = errors.New("signing failed")
		if _, err := f.svc.Refresh(ctx, first.RefreshToken, client); err == nil {
			t.Fatal("refresh succeeded without a signature")
		}
		f.issuer.fail = nil
		if _, err := f.svc.Refresh(ctx, first.RefreshToken, client); err != nil {
			t.Errorf("the old token no longer works after a failed refresh: %v", err)
		}
	})
}
