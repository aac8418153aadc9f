package storetest

import (
	"context"
	"testing"
	"time"

	"tokenflow/store"
)

// Operations is what operators need of a store besides the contract:
// readiness and the sessions gauge.
type Operations interface {
	store.Store
	MigrationsPending(ctx context.Context) (int, error)
	CountActiveSessions(ctx context.Context) (int, error)
}

// NewOperations returns an empty store as NewStore does, and a function
// that deletes goose's record of the newest migration, as an older copy
// restored under the running server would.
type NewOperations func(t *testing.T, now func() time.Time) (s Operations, forgetNewestMigration func() error)

// RunOperations holds a backend's readiness and gauge to what operators
// read from them.
func RunOperations(t *testing.T, open NewOperations) {
	t.Run("MigrationsPending", func(t *testing.T) {
		s, forget := open(t, func() time.Time { return T0 })
		ctx := context.Background()
		if n, err := s.MigrationsPending(ctx); err != nil || n != 0 {
			t.Fatalf("after Open: %d, %v; want 0", n, err)
		}
		if err := forget(); err != nil {
			t.Fatal(err)
		}
		if n, err := s.MigrationsPending(ctx); err != nil || n != 1 {
			t.Fatalf("with one unrecorded: %d, %v; want 1", n, err)
		}
	})
	t.Run("CountActiveSessions", func(t *testing.T) {
		now := T0
		s, _ := open(t, func() time.Time { return now })
		ctx := context.Background()
		u := MustUser(t, s, "alice")
		MustSession(t, s, u.ID, "h-live")
		Revoke(t, s, MustSession(t, s, u.ID, "h-revoked").ID, store.EventLogout)
		now = now.Add(IdleTTL / 2)
		MustSession(t, s, u.ID, "h-late") // still live after the first one idles out
		if n, err := s.CountActiveSessions(ctx); err != nil || n != 2 {
			t.Fatalf("CountActiveSessions = %d, %v; want 2 (the revoked one is not live)", n, err)
		}
		now = now.Add(IdleTTL/2 + time.Millisecond)
		if n, err := s.CountActiveSessions(ctx); err != nil || n != 1 {
			t.Fatalf("after the first idled out: %d, %v; want 1", n, err)
		}
	})
}
