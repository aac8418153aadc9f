package postgres

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
	"tokenflow/store/postgres/pgtest"
	"tokenflow/store/storetest"
	"tokenflow/throttle"
	"tokenflow/throttle/throttletest"
)

func openTest(t *testing.T, databaseURL string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), databaseURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.Now = now
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract holds the PostgreSQL store to the behaviour every store
// shares, each case in a schema of its own.
func TestContract(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openTest(t, pgtest.FreshURL(t), now)
	})
}

// TestContractTwoStores: two pools on one database, as two instances have.
func TestContractTwoStores(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.RunTwoStores(t, func(t *testing.T, now func() time.Time) (store.Store, store.Store) {
		u := pgtest.FreshURL(t)
		return openTest(t, u, now), openTest(t, u, now)
	})
}

// Instances starting at once on an empty database: goose's advisory lock
// lets one migrate; the others find every version applied.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	u := pgtest.FreshURL(t)
	storetest.AllAtOnce(t, "open", 4, func(int) error {
		s, err := Open(context.Background(), u)
		if err == nil {
			s.Close()
		}
		return err
	})
	s := openTest(t, u, time.Now)
	files, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("%d migration rows, want %d (each applied once)", n, len(files))
	}
}

// A bad URL, an unreachable server, a database or role that does not
// exist: Open fails with one line that never repeats the password.
func TestOpenErrorsNeverShowThePassword(t *testing.T) {
	const password = "Hunter2-s3cret"
	cases := []struct {
		name, url string
		server    bool // needs TEST_DATABASE_URL's server
	}{
		{"bad port", "postgres://app:" + password + "@127.0.0.1:notaport/appdb", false},
		{"bad parameter", "postgres://app:" + password + "@127.0.0.1/appdb?sslmode=sometimes", false},
		{"password as a parameter", "postgres://app@127.0.0.1:1/appdb?password=" + password + "&connect_timeout=2", false},
		{"unreachable", "postgresql://app:" + password + "@127.0.0.1:1/appdb?connect_timeout=2", false},
		{"escaped password unreachable", "postgres://app:" + url.PathEscape(password+"/@:") + "@127.0.0.1:1/appdb?connect_timeout=2", false},
		{"no such database", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if tc.server {
				base, err := url.Parse(pgtest.ServerURL(t))
				if err != nil {
					t.Fatal(err)
				}
				base.User = url.UserPassword("tokenflow_no_such_role", password)
				base.Path = "/tokenflow_no_such_database"
				u = base.String()
			}
			s, err := Open(context.Background(), u)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", tc.name)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, form := range []string{password, url.PathEscape(password), url.QueryEscape(password)} {
				if strings.Contains(err.Error(), form) {
					t.Errorf("error shows the password: %v", err)
				}
			}
		})
	}
}

func TestOperations(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.RunOperations(t, func(t *testing.T, now func() time.Time) (storetest.Operations, func() error) {
		s := openTest(t, pgtest.FreshURL(t), now)
		return s, func() error {
			_, err := s.pool.Exec(context.Background(), `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`)
			return err
		}
	})
}

// TestThrottleContract holds the shared throttle store to the contract
// Memory passes, with its two stores on two pools of one database, as two
// app instances would have.
func TestThrottleContract(t *testing.T) {
	pgtest.ServerURL(t)
	throttletest.Run(t, func(t *testing.T, l throttle.Limits) (throttle.Store, throttle.Store) {
		u := pgtest.FreshURL(t)
		a, b := openTest(t, u, time.Now), openTest(t, u, time.Now)
		return NewThrottle(a, l, nil), NewThrottle(b, l, nil)
	})
}

// An attempt whose instance died before it resolved holds its room only
// until its row expires (AttemptTimeout), and is neither a failure nor a
// login after that.
func TestThrottleAttemptsOfADeadInstanceExpire(t *testing.T) {
	u := pgtest.FreshURL(t)
	l := throttle.Limits{LoginFailures: 2, AddressFailures: 100, Logins: 100, Registrations: 1, AttemptTimeout: throttletest.AttemptTimeout}
	dead, alive := NewThrottle(openTest(t, u, time.Now), l, nil), NewThrottle(openTest(t, u, time.Now), l, nil)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for range 2 {
		if a, _, _, err := dead.BeginLogin(ctx, "ada", "192.0.2.1", t0); err != nil || a == nil {
			t.Fatalf("attempt refused: %v", err)
		} // never resolved: its instance died
	}
	if a, _, busy, err := alive.BeginLogin(ctx, "ada", "192.0.2.1", t0.Add(l.AttemptTimeout-time.Millisecond)); err != nil || a != nil || busy == nil {
		t.Fatalf("while the dead attempts hold their room: attempt %v, busy %v, err %v; want busy", a != nil, busy != nil, err)
	}
	later := t0.Add(l.AttemptTimeout)
	for range 2 {
		a, wait, busy, err := alive.BeginLogin(ctx, "ada", "192.0.2.1", later)
		if err != nil || a == nil {
			t.Fatalf("after the dead attempts expired: wait %v, busy %v, err %v", wait, busy != nil, err)
		}
		a.Failed()
	}
	if _, wait, _, _ := alive.BeginLogin(ctx, "ada", "192.0.2.1", later); wait != throttle.AccountDelay(0) {
		t.Errorf("after 2 failures: wait %v, want %v", wait, throttle.AccountDelay(0))
	}
}

// The store failing refuses the look (fail closed), never lets it through.
func TestThrottleFailsClosed(t *testing.T) {
	u := pgtest.FreshURL(t)
	s := openTest(t, u, time.Now)
	th := throttle.New(NewThrottle(s, throttle.Limits{LoginFailures: 1, AddressFailures: 1, Logins: 1, Registrations: 1, AttemptTimeout: time.Second}, nil))
	s.Close()
	a, wait, err := th.BeginLogin(context.Background(), "ada", "192.0.2.1", time.Now)
	if !errors.Is(err, throttle.ErrUnavailable) || a != nil || wait != 0 {
		t.Errorf("login on a closed store: attempt %v, wait %v, err %v; want ErrUnavailable", a != nil, wait, err)
	}
	if _, err := th.AllowRegistration(context.Background(), "192.0.2.1", time.Now()); !errors.Is(err, throttle.ErrUnavailable) {
		t.Errorf("registration on a closed store: %v, want ErrUnavailable", err)
	}
}

// The cleanup job keeps the throttle's tables bounded: a spray of guesses
// at made-up usernames leaves no rows once they no longer count, and rows
// that still count stay.
func TestDeleteExpiredDropsThrottleCountersThatNoLongerCount(t *testing.T) {
	u := pgtest.FreshURL(t)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	s := openTest(t, u, func() time.Time { return now })
	th := NewThrottle(s, throttle.Limits{LoginFailures: 3, AddressFailures: 100, Logins: 100, Registrations: 5, AttemptTimeout: time.Second}, nil)
	ctx := context.Background()
	for i := range 5 {
		a, _, _, err := th.BeginLogin(ctx, "sprayed"+string(rune('a'+i)), "192.0.2.1", t0)
		if err != nil || a == nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		a.Failed()
	}
	th.BeginLogin(ctx, "left-in-flight", "192.0.2.2", t0)
	th.CountRegistration(ctx, "192.0.2.1", t0)
	rows := func() (n int) {
		t.Helper()
		if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM throttle_accounts) + (SELECT count(*) FROM throttle_windows) + (SELECT count(*) FROM throttle_attempts)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := s.DeleteExpired(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 5+4+1 {
		t.Errorf("at once: %d rows, want 10 (5 accounts, 4 windows, 1 attempt): they still count", n)
	}
	now = t0.Add(throttle.AccountMemory + time.Minute)
	for range 5 {
		if _, err := s.DeleteExpired(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	if n := rows(); n != 0 {
		t.Errorf("a day later: %d throttle rows left, want 0", n)
	}
}

// A dead session whose row a rotation holds (TokenForUpdate locks the
// session first) is skipped by DeleteExpired, tokens and events included,
// instead of waited for; the next sweep takes it.
func TestDeleteExpiredSkipsALockedSession(t *testing.T) {
	u := pgtest.FreshURL(t)
	now := storetest.T0
	s := openTest(t, u, func() time.Time { return now })
	ctx := context.Background()
	alice := storetest.MustUser(t, s, "alice")
	idle := now.Add(-sqltables.DeadMargin - time.Minute).UnixMilli()
	ids := []string{"dead-a", "dead-b", "dead-c"}
	for _, id := range ids {
		if _, err := s.pool.Exec(ctx, `INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at) VALUES ($1, $2, 0, 0, $3, $3)`, id, alice.ID, idle); err != nil {
			t.Fatal(err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO refresh_tokens (session_id, token_hash, created_at, used_at)
			SELECT $1, $1 || '-' || g, 0, 0 FROM generate_series(1, 1000) g`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO session_events (session_id, user_id, kind, at)
			SELECT $1, $2, 'refresh', g FROM generate_series(1, 100) g`, id, alice.ID); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(table, id string) (n int) {
		t.Helper()
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE session_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE`, "dead-b"); err != nil {
		t.Fatal(err)
	}
	// Bounded, so that waiting for the lock fails the test instead of hanging it.
	bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if n, err := s.DeleteExpired(bounded, 500); err != nil || n != 2 {
		t.Fatalf("DeleteExpired with one session locked = %d, %v; want 2", n, err)
	}
	if a, b := rows("refresh_tokens", "dead-b"), rows("session_events", "dead-b"); a != 1000 || b != 100 {
		t.Errorf("the locked session kept %d of 1000 tokens and %d of 100 events", a, b)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx, 500); err != nil || n != 1 {
		t.Fatalf("DeleteExpired after the lock = %d, %v; want 1", n, err)
	}
	for _, id := range ids {
		if a := rows("refresh_tokens", id); a != 0 {
			t.Errorf("%s: %d tokens left", id, a)
		}
	}
}
