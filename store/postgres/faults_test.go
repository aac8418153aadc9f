package postgres

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tokenflow/store"
	"tokenflow/store/postgres/pgtest"
	"tokenflow/store/storetest"
)

// terminator ends the backends of the pool whose connections carry the
// application name: what a server restart or an administrator does to us,
// without stopping the machine's cluster, which other tests share.
type terminator struct {
	admin   *pgx.Conn
	appName string
}

func (k terminator) terminate(t *testing.T) {
	t.Helper()
	if _, err := k.admin.Exec(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, k.appName); err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
}

func openTerminable(t *testing.T) (*Store, terminator) {
	t.Helper()
	u, err := url.Parse(pgtest.FreshURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	appName := "tokenflow_fault_" + time.Now().Format("150405.000000000")
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	admin, err := pgx.Connect(context.Background(), pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return openTest(t, u.String(), time.Now), terminator{admin: admin, appName: appName}
}

// A connection terminated in the middle of a rotation (57P01, as on a
// server restart) fails it with store.ErrUnavailable and commits nothing:
// the presented token is still live and rotates on the next try, on a new
// connection, with no restart of ours.
func TestTerminatedConnectionRollsBackAndRecovers(t *testing.T) {
	s, k := openTerminable(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "alice", "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSession(ctx, store.NewSession{UserID: u.ID, RefreshHash: "hash-1", IdleTTL: time.Hour, MaxAge: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}

	err = s.InTx(ctx, func(tx store.Tx) error {
		_, err := storetest.Rotate(ctx, tx, "hash-1", "hash-2", func() { k.terminate(t) })
		return err
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("rotation on a terminated connection: %v, want store.ErrUnavailable", err)
	}

	// Idle connections go too; the pool replaces them by itself, and a
	// request that lands on a dead one is unavailable, never another error.
	k.terminate(t)
	var last error
	for range 3 {
		if last = s.InTx(ctx, func(tx store.Tx) error {
			_, _, _, err := tx.TokenForUpdate(ctx, "hash-1")
			return err
		}); last == nil {
			break
		}
		if !errors.Is(last, store.ErrUnavailable) {
			t.Fatalf("after the backends were terminated: %v, want nil or store.ErrUnavailable", last)
		}
	}
	if last != nil {
		t.Fatalf("the store did not recover: %v", last)
	}
	var tok store.RefreshToken
	if err := s.InTx(ctx, func(tx store.Tx) (err error) {
		tok, _, _, err = tx.TokenForUpdate(ctx, "hash-1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !tok.UsedAt.IsZero() {
		t.Fatal("the failed rotation marked the presented token used")
	}
	storetest.UseToken(t, s, "hash-1", "hash-2")
}

// A server that refuses connections is unavailable, not an unknown error.
func TestRefusedConnectionIsUnavailable(t *testing.T) {
	_, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Skip("something listens on port 1")
	}
	if got := unavailable(err); !errors.Is(got, store.ErrUnavailable) {
		t.Errorf("refused connection: %v, want store.ErrUnavailable", got)
	}
}
