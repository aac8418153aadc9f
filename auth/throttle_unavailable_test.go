package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"tokenflow/throttle"
)

// downThrottle is a throttle store whose counters cannot be reached.
type downThrottle struct{}

var errDown = errors.New("connection refused")

func (downThrottle) BeginLogin(context.Context, string, string, time.Time) (throttle.Attempt, time.Duration, <-chan struct{}, error) {
	return nil, 0, nil, errDown
}

func (downThrottle) CountRegistration(context.Context, string, time.Time) (time.Duration, error) {
	return 0, errDown
}

func (downThrottle) UncountRegistration(context.Context, string) {}

// Without its counters the throttle fails closed: the right password does
// not log in (an outage must not be a window of unlimited guessing), no
// account is created, and the caller hears "busy" (503), not a 500.
func TestThrottleUnavailableFailsClosed(t *testing.T) {
	f := newFixture(t)
	f.register(t, "ada")
	down := newFixture(t, func(d *Deps) { d.Store = f.store; d.Throttle = throttle.New(downThrottle{}) })
	if _, err := down.svc.Login(context.Background(), "ada", pw, client); !errors.Is(err, ErrBusy) || !errors.Is(err, throttle.ErrUnavailable) {
		t.Errorf("login with the right password: %v, want ErrBusy wrapping throttle.ErrUnavailable", err)
	}
	if _, err := down.svc.Register(context.Background(), "grace", pw, client); !errors.Is(err, ErrBusy) {
		t.Errorf("register: %v, want ErrBusy", err)
	}
	if _, err := f.store.UserByUsername(context.Background(), "grace"); err == nil {
		t.Error("an account was created while the throttle was down")
	}
}
