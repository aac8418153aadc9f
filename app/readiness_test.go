package app

import (
	"context"
	"errors"
	"testing"

	"tokenflow/handlers"
)

type fakeReadinessStore struct {
	pingErr error
	pending int
}

func (f fakeReadinessStore) Ping(context.Context) error { return f.pingErr }
func (f fakeReadinessStore) MigrationsPending(context.Context) (int, error) {
	return f.pending, nil
}

func TestReadiness(t *testing.T) {
	keysOK := func() error { return nil }
	tests := []struct {
		name     string
		r        *readiness
		draining bool
		wantOK   bool
		want     error // errors.Is target, when set
	}{
		{"ok, all ready", &readiness{store: fakeReadinessStore{}, keys: keysOK}, false, true, nil},
		{"nok, draining, whatever else", &readiness{store: fakeReadinessStore{}, keys: keysOK}, true, false, handlers.ErrDraining},
		{"nok, store down", &readiness{store: fakeReadinessStore{pingErr: errors.New("disk I/O error")}, keys: keysOK}, false, false, nil},
		{"nok, a migration not applied", &readiness{store: fakeReadinessStore{pending: 1}, keys: keysOK}, false, false, nil},
		{"nok, keys do not sign", &readiness{store: fakeReadinessStore{}, keys: func() error { return errors.New("no current key") }}, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.draining.Store(tt.draining)
			err := tt.r.Ready(context.Background())
			if (err == nil) != tt.wantOK {
				t.Fatalf("Ready() = %v, want ok=%v", err, tt.wantOK)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Ready() = %v, want %v", err, tt.want)
			}
			if !tt.draining && errors.Is(err, handlers.ErrDraining) {
				t.Errorf("not draining, yet %v", err)
			}
		})
	}
}
