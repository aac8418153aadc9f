package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/storetest"
)

// eventStore is a fresh store with one user and session, and a function
// that writes one event of that session with the given detail.
func eventStore(t *testing.T, username string) (*Store, func(store.Tx, string) error) {
	s, _, event := sessionStore(t, username)
	return s, event
}

// sessionStore is eventStore with its session.
func sessionStore(t *testing.T, username string) (*Store, store.Session, func(store.Tx, string) error) {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, &now)
	u := storetest.MustUser(t, s, username)
	sess := storetest.MustSession(t, s, u.ID, username+"-hash")
	return s, sess, func(tx store.Tx, detail string) error {
		return tx.InsertEvent(context.Background(), store.Event{SessionID: sess.ID, UserID: u.ID, Kind: store.EventRefresh, At: now, Detail: detail})
	}
}

// rollbackOnBoom adds a trigger that rolls back the whole transaction
// when an event with detail "boom" is written: a deterministic stand-in
// for SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM, which SQLite may answer
// by rolling back the whole transaction, not just the statement.
func rollbackOnBoom(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.db.Exec(`CREATE TRIGGER boom BEFORE INSERT ON session_events
		WHEN NEW.detail = 'boom' BEGIN SELECT RAISE(ROLLBACK, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
}

// waitQueued waits until n transactions wait in the store's queue.
func waitQueued(s *Store, n int) {
	for {
		s.batch.mu.Lock()
		queued := len(s.batch.pending)
		s.batch.mu.Unlock()
		if queued == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// queueInOrder queues fns one by one behind a held write lock, each once
// the previous one waits, so they form one batch; then it releases the
// lock and returns each call's error. The batch runs them in the order
// they queued (fns: at most 10).
func queueInOrder(t *testing.T, s *Store, fns []func(store.Tx) error) []error {
	t.Helper()
	release := holdWriteLock(s, func(store.Tx) error { return nil })
	errs := make([]error, len(fns))
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i, fn := range fns {
		wg.Go(func() {
			errs[i] = s.InTx(context.Background(), func(tx store.Tx) error {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				return fn(tx)
			})
		})
		waitQueued(s, i+1)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// A batch that fails stops at the member that broke it.
	if !slices.Equal(order, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}[:len(order)]) {
		t.Fatalf("the batch ran its transactions in the order %v, not in the order they queued", order)
	}
	return errs
}

// hangGuard fails the test instead of hanging when f does not return.
func hangGuard(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never returned: the write lock is wedged", what)
	}
}

// holdWriteLock starts a transaction that holds the write lock until
// release is called, then runs last in it; release returns its result.
func holdWriteLock(s *Store, last func(store.Tx) error) (release func() error) {
	held, done := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- s.InTx(context.Background(), func(tx store.Tx) error {
			close(held)
			<-done
			return last(tx)
		})
	}()
	<-held
	return func() error {
		close(done)
		return <-holder
	}
}

// TestInTxQueuesWritersInGo: while one transaction holds the write lock,
// the others of the process wait in Go, not in SQLite's busy handler on
// connections of their own; a waiter whose context ends gives up with the
// context's error (not as an unavailable store, so no 503) and leaves the
// lock to the others.
func TestInTxQueuesWritersInGo(t *testing.T) {
	s, event := eventStore(t, "writer")
	release := holdWriteLock(s, func(tx store.Tx) error { return event(tx, "holder") })

	const waiters = 4
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, waiters)
	ran := make([]bool, waiters)
	for i := range waiters {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(store.Tx) error {
				ran[i] = true
				return nil
			})
		})
	}
	// Give the waiters time to reach BEGIN if they were going to: with
	// SQLite's busy handler each would hold a connection of its own now.
	time.Sleep(200 * time.Millisecond)
	if inUse := s.db.Stats().InUse; inUse != 1 {
		t.Errorf("connections in use while %d transactions wait: %d, want 1 (the holder's)", waiters, inUse)
	}
	cancel()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("waiter %d: %v, want context.Canceled and not ErrUnavailable", i, err)
		}
		if ran[i] {
			t.Errorf("waiter %d ran its function after its context ended", i)
		}
	}

	if err := release(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	// The lock was released: the next transaction runs.
	if err := s.InTx(context.Background(), func(store.Tx) error { return nil }); err != nil {
		t.Fatalf("InTx after the waiters gave up: %v", err)
	}
}

// TestInTxEndedContextNeverBegins: a context that has already ended does
// not take a free lock either.
func TestInTxEndedContextNeverBegins(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, &now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := s.InTx(ctx, func(store.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("InTx(ended context) = %v, ran %v; want context.Canceled, not run", err, ran)
	}
}

// TestInTxGroupCommit: transactions that queue while another holds the
// write lock run in the next batch, one after the other; one that fails or
// panics loses only its own writes, and the others are answered only after
// the commit that carries all of them.
func TestInTxGroupCommit(t *testing.T) {
	s, event := eventStore(t, "grouped")
	release := holdWriteLock(s, func(tx store.Tx) error { return event(tx, "holder") })

	errBoom := errors.New("boom")
	var (
		answered atomic.Int64 // InTx calls that have returned, panics aside
		mu       sync.Mutex
		early    []string // functions that ran after a successful call was answered
		wg       sync.WaitGroup
	)
	results := map[string]error{}
	members := []string{"ok-1", "fails", "ok-2", "panics", "ok-3"}
	for _, name := range members {
		wg.Go(func() {
			var err error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				err = s.InTx(context.Background(), func(tx store.Tx) error {
					if answered.Load() != 0 {
						mu.Lock()
						early = append(early, name)
						mu.Unlock()
					}
					if err := event(tx, name); err != nil {
						return err
					}
					switch name {
					case "fails":
						return errBoom
					case "panics":
						panic("member panics")
					}
					return nil
				})
				return nil
			}()
			if panicked == nil { // failed ones too: answered after the commit
				answered.Add(1)
			}
			mu.Lock()
			if panicked != nil {
				err = errors.New("panicked")
			}
			results[name] = err
			mu.Unlock()
		})
	}
	// Release the holder once all five wait behind it, so they form one batch.
	waitQueued(s, len(members))
	if err := release(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	wg.Wait()

	if len(early) != 0 {
		t.Errorf("%v ran after another member of the batch was answered: answers came before the commit", early)
	}
	for _, name := range []string{"ok-1", "ok-2", "ok-3"} {
		if results[name] != nil {
			t.Errorf("%s: %v, want nil", name, results[name])
		}
		if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail = ?`, name); n != 1 {
			t.Errorf("%s: %d rows committed, want 1", name, n)
		}
	}
	if !errors.Is(results["fails"], errBoom) {
		t.Errorf("fails: %v, want its own error", results["fails"])
	}
	if results["panics"] == nil || results["panics"].Error() != "panicked" {
		t.Errorf("panics: %v, want the panic raised in its caller", results["panics"])
	}
	for _, name := range []string{"fails", "panics"} {
		if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail = ?`, name); n != 0 {
			t.Errorf("%s: %d rows kept, want 0 (its savepoint rolled back)", name, n)
		}
	}
}

// TestInTxFailedMemberAnsweredAfterCommit: A revokes the session, B sees
// it revoked and fails with its verdict, C's statement rolls the whole
// transaction back. B's verdict rested on A's write, which never reached
// the disk: B must not be told "revoked" while the session is live, so it
// waits with the batch and gets the batch's error.
func TestInTxFailedMemberAnsweredAfterCommit(t *testing.T) {
	s, sess, event := sessionStore(t, "verdict")
	rollbackOnBoom(t, s)
	ctx := context.Background()
	errRevoked := errors.New("session revoked")
	errs := queueInOrder(t, s, []func(store.Tx) error{
		func(tx store.Tx) error { return tx.RevokeSession(ctx, sess.ID, store.EventLogout, tx.Now()) },
		func(tx store.Tx) error {
			got, err := tx.SessionForUpdate(ctx, sess.ID)
			if err != nil {
				return err
			}
			if got.Revoked() {
				return errRevoked
			}
			return nil
		},
		func(tx store.Tx) error { return event(tx, "boom") },
	})
	live, err := s.Session(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if live.Revoked() {
		t.Fatalf("the revocation of a failed batch was kept")
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("member %d told success for a rolled-back batch", i)
		}
	}
	if errors.Is(errs[1], errRevoked) {
		t.Errorf("B told %q, but the session is live on disk", errs[1])
	}
}

// TestInTxWholeRollback: a member's statement rolls back the whole
// transaction (the disk failed), so undoing its savepoint fails and the
// batch fails. Whether the member then ignores the error or reports a
// verdict of its own: nobody is told success, nothing of the batch is
// kept, and the batch's error, which goes to every member, wraps no
// member's own error, or errors.Is/As would match that member's sentinel
// (auth maps store.ErrRefreshUnknown to an expired session) in the others.
func TestInTxWholeRollback(t *testing.T) {
	for _, own := range []error{nil, store.ErrRefreshUnknown} {
		t.Run(fmt.Sprint("returns ", own), func(t *testing.T) {
			s, event := eventStore(t, "whole")
			rollbackOnBoom(t, s)
			errs := queueInOrder(t, s, []func(store.Tx) error{
				func(tx store.Tx) error { return event(tx, "ok-a") },
				func(tx store.Tx) error { event(tx, "boom"); return own },
				func(tx store.Tx) error { return event(tx, "ok-c") },
			})
			for i, err := range errs {
				if err == nil {
					t.Errorf("member %d told success for a rolled-back batch", i)
				}
				if i != 1 && errors.Is(err, store.ErrRefreshUnknown) {
					t.Errorf("member %d told %v: matches another caller's ErrRefreshUnknown", i, err)
				}
			}
			if own != nil && !strings.Contains(errs[1].Error(), own.Error()) {
				t.Errorf("the failing member's error %q does not name its own", errs[1])
			}
			if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail LIKE 'ok-%'`); n != 0 {
				t.Errorf("%d events of a failed batch kept", n)
			}
		})
	}
}

// TestInTxFailedCommitFailsEveryone: the COMMIT itself fails (a deferred
// foreign-key violation, checked only at COMMIT, stands in for a full
// disk at the WAL append) after every savepoint was released: every
// member gets an error, nothing is kept, and the next batch works.
func TestInTxFailedCommitFailsEveryone(t *testing.T) {
	s, event := eventStore(t, "commit")
	ctx := context.Background()
	errs := queueInOrder(t, s, []func(store.Tx) error{
		func(tx store.Tx) error { return event(tx, "ok-a") },
		func(t2 store.Tx) error {
			raw := t2.(*tx).tx
			if _, err := raw.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
			_, err := raw.ExecContext(ctx, `INSERT INTO session_events (session_id, user_id, kind, at, ip, user_agent, detail)
				VALUES ('no-such-session', 'x', 'refresh', 0, '', '', 'ok-b')`)
			return err
		},
		func(tx store.Tx) error { return event(tx, "ok-c") },
	})
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "store: commit") {
			t.Errorf("member %d: %v, want the commit's error", i, err)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail LIKE 'ok-%'`); n != 0 {
		t.Errorf("%d events of a failed commit kept", n)
	}
	if err := s.InTx(ctx, func(tx store.Tx) error { return event(tx, "after") }); err != nil {
		t.Errorf("next InTx: %v", err)
	}
}

// TestInTxContextEndsMidFunction: B's context ends in the middle of its
// function: its next statement fails, B rolls back to its savepoint, and
// A and C commit.
func TestInTxContextEndsMidFunction(t *testing.T) {
	s, event := eventStore(t, "midway")
	bctx, cancel := context.WithCancel(context.Background())
	errs := queueInOrder(t, s, []func(store.Tx) error{
		func(tx store.Tx) error { return event(tx, "ok-a") },
		func(tx store.Tx) error {
			if err := event(tx, "b-1"); err != nil {
				return err
			}
			cancel()
			_, err := tx.LiveSessions(bctx, "x")
			return err
		},
		func(tx store.Tx) error { return event(tx, "ok-c") },
	})
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], context.Canceled) {
		t.Fatalf("errs %v, want nil, context.Canceled, nil", errs)
	}
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail IN ('ok-a', 'ok-c')`); n != 2 {
		t.Errorf("%d of A and C kept, want 2", n)
	}
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail = 'b-1'`); n != 0 {
		t.Errorf("B's write kept")
	}
}

// TestInTxGoexitLeavesQueueWorking: a function that leaves its goroutine
// by runtime.Goexit (t.Fatal in a test's fn) loses its own writes, alone
// or in a batch, first in it or not; the others of its batch commit and
// the next transaction runs.
func TestInTxGoexitLeavesQueueWorking(t *testing.T) {
	s, event := eventStore(t, "goexit")
	exit := func(tx store.Tx) error { event(tx, "exited"); runtime.Goexit(); return nil }
	ctx := context.Background()

	hangGuard(t, "a lone transaction after a Goexit", func() {
		done := make(chan struct{})
		go func() { defer close(done); s.InTx(ctx, exit) }()
		<-done
		if err := s.InTx(ctx, func(tx store.Tx) error { return event(tx, "after-lone") }); err != nil {
			t.Errorf("InTx after a Goexit: %v", err)
		}
	})

	hangGuard(t, "a batch with a Goexit", func() {
		release := holdWriteLock(s, func(store.Tx) error { return nil })
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range 3 {
			wg.Go(func() {
				errs[i] = s.InTx(ctx, func(tx store.Tx) error {
					if i != 2 {
						return event(tx, fmt.Sprint("batch-", i))
					}
					return exit(tx)
				})
			})
			waitQueued(s, i+1)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("the others of a batch with a Goexit: %v", errs)
		}
	})

	hangGuard(t, "a batch whose first transaction exits", func() {
		held := make(chan struct{})
		go s.InTx(ctx, func(tx store.Tx) error {
			close(held)
			waitQueued(s, 1)
			return exit(tx)
		})
		<-held
		if err := s.InTx(ctx, func(tx store.Tx) error { return event(tx, "behind-exited") }); err != nil {
			t.Errorf("InTx queued behind a Goexit: %v", err)
		}
	})

	if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail = 'exited'`); n != 0 {
		t.Errorf("%d writes of exited functions kept", n)
	}
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail IN ('after-lone', 'batch-0', 'batch-1', 'behind-exited')`); n != 4 {
		t.Errorf("%d of the 4 writes beside the exits kept", n)
	}
}

// TestInTxNestedFailsFast: InTx inside a function InTx runs on the same
// store (directly, or through a Store method that writes) fails at once
// instead of waiting for the batch that waits for it, alone or in a batch.
func TestInTxNestedFailsFast(t *testing.T) {
	s, event := eventStore(t, "nested")
	ctx := context.Background()
	nested := func(tx store.Tx) error {
		if err := s.InTx(ctx, func(store.Tx) error { return nil }); !errors.Is(err, ErrNestedTx) {
			return fmt.Errorf("nested InTx: %v, want ErrNestedTx", err)
		}
		if _, err := s.CreateUser(ctx, "inner", "x"); !errors.Is(err, ErrNestedTx) {
			return fmt.Errorf("CreateUser inside InTx: %v, want ErrNestedTx", err)
		}
		return event(tx, "outer")
	}
	hangGuard(t, "a nested InTx", func() {
		if err := s.InTx(ctx, nested); err != nil {
			t.Error(err)
		}
	})
	hangGuard(t, "a nested InTx in a batch", func() {
		errs := queueInOrder(t, s, []func(store.Tx) error{
			func(tx store.Tx) error { return event(tx, "first") },
			nested,
		})
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("errs %v", errs)
		}
	})
	if n := count(t, s, `SELECT count(*) FROM users WHERE username = 'inner'`); n != 0 {
		t.Errorf("the nested CreateUser wrote")
	}
}

// TestWritesOutsideInTxQueueInGo: the Store methods that write outside
// InTx wait in the same queue as InTx, in Go, not in SQLite's busy
// handler on a connection of their own (where back-to-back batches can
// starve them until busy_timeout answers 503), and commit behind it.
func TestWritesOutsideInTxQueueInGo(t *testing.T) {
	s, _ := eventStore(t, "outside")
	ctx := context.Background()
	writes := map[string]func() error{
		"CreateUser":    func() error { _, err := s.CreateUser(ctx, "queued", "x"); return err },
		"DeleteExpired": func() error { _, err := s.DeleteExpired(ctx, 0); return err },
		"ChangeSigningKeys": func() error {
			return s.ChangeSigningKeys(ctx, func([]store.SigningKey) (store.SigningKeyChanges, error) {
				return store.SigningKeyChanges{}, nil
			})
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			release := holdWriteLock(s, func(store.Tx) error { return nil })
			done := make(chan error, 1)
			go func() { done <- write() }()
			// Queued in Go, or waiting in SQLite on a second connection.
			for {
				s.batch.mu.Lock()
				queued := len(s.batch.pending)
				s.batch.mu.Unlock()
				if queued == 1 || s.db.Stats().InUse > 1 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if inUse := s.db.Stats().InUse; inUse != 1 {
				t.Errorf("%s waits on a connection of its own (%d in use), not in the queue", name, inUse)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	if _, err := s.UserByUsername(ctx, "queued"); err != nil {
		t.Errorf("the queued CreateUser: %v", err)
	}
	if _, err := s.CreateUser(ctx, "QUEUED", "x"); !errors.Is(err, store.ErrUsernameTaken) {
		t.Errorf("CreateUser of a taken name through the queue: %v, want ErrUsernameTaken", err)
	}
}

// TestInTxNestedGuardIsPerGoroutine: while a function InTx runs, a call
// from its own goroutine is nested (ErrNestedTx), and a call from any
// other goroutine is not: it queues and commits. The guard follows the
// goroutine that runs the function, not whichever one queued last.
func TestInTxNestedGuardIsPerGoroutine(t *testing.T) {
	s, event := eventStore(t, "guard")
	ctx := context.Background()
	hangGuard(t, "InTx beside and inside a running function", func() {
		beside := make(chan error, 1)
		err := s.InTx(ctx, func(tx store.Tx) error {
			go func() {
				beside <- s.InTx(ctx, func(tx store.Tx) error { return event(tx, "beside") })
			}()
			for { // queued behind this function, or refused at once
				s.batch.mu.Lock()
				queued := len(s.batch.pending)
				s.batch.mu.Unlock()
				if queued == 1 {
					break
				}
				select {
				case err := <-beside:
					beside <- err // for the check below
					return fmt.Errorf("InTx from another goroutine: %v, want it queued", err)
				case <-time.After(time.Millisecond):
				}
			}
			if err := s.InTx(ctx, func(store.Tx) error { return nil }); !errors.Is(err, ErrNestedTx) {
				return fmt.Errorf("InTx from the function's goroutine: %v, want ErrNestedTx", err)
			}
			return event(tx, "outer")
		})
		if err != nil {
			t.Error(err)
		}
		if err := <-beside; err != nil {
			t.Errorf("InTx from another goroutine: %v", err)
		}
		// The same goroutine, its function ended, is no longer nested.
		if err := s.InTx(ctx, func(tx store.Tx) error { return event(tx, "after") }); err != nil {
			t.Errorf("InTx after the function returned: %v", err)
		}
	})
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE detail IN ('outer', 'beside', 'after')`); n != 3 {
		t.Errorf("%d of 3 writes kept", n)
	}
}
