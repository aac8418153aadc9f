package sqlite

import (
	"context"
	"errors"
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
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t, &now)
	u := storetest.MustUser(t, s, username)
	sess := storetest.MustSession(t, s, u.ID, username+"-hash")
	return s, func(tx store.Tx, detail string) error {
		return tx.InsertEvent(context.Background(), store.Event{SessionID: sess.ID, UserID: u.ID, Kind: store.EventRefresh, At: now, Detail: detail})
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
		answered atomic.Int64 // successful InTx calls that have returned
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
			if err == nil && panicked == nil {
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
	for {
		s.batch.mu.Lock()
		n := len(s.batch.pending)
		s.batch.mu.Unlock()
		if n == len(members) {
			break
		}
		time.Sleep(time.Millisecond)
	}
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
