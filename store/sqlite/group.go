package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"tokenflow/store"
)

// Group commit. With synchronous=FULL every COMMIT waits for an fsync of
// the WAL, and SQLite has one writer: transactions that commit one by one
// are bounded by the disk's fsyncs a second. InTx therefore runs the
// transactions that queue up while one commits together in the next
// transaction, each in a SAVEPOINT of its own, and commits them with one
// fsync:
//
//   - The transactions of a batch run one after the other, in the order
//     they queued, each on its caller's goroutine, with the clock read at
//     its turn. Each sees what the earlier ones wrote, exactly as if each
//     had committed before the next began.
//   - A function that fails or panics rolls back to its own savepoint:
//     nothing it wrote is kept, and the others' work is untouched. One that
//     panics has the panic re-raised in its caller at once; one that
//     returns an error waits with the batch, since its verdict may rest on
//     what earlier members wrote: after the COMMIT it gets its own error,
//     or the batch's error if the batch failed.
//   - A function that succeeds gets its answer only after the COMMIT: nil
//     when the batch is on disk, the commit's error when it is not. No
//     caller ever hears "done" for work that is not durable.
//   - A failure of the batch itself (BEGIN, SAVEPOINT, RELEASE, ROLLBACK
//     TO, COMMIT: the disk, not a caller's function) fails every member
//     that has not had its answer, and nothing of the batch is kept. That
//     error never wraps a caller's own error, so errors.Is and errors.As
//     never match one caller's sentinel in another's answer.
//   - A function that leaves its goroutine (runtime.Goexit, as t.Fatal
//     does) is rolled back to its savepoint like one that panics; the
//     batch goes on.
//
// The batch is run by a goroutine of its own (commit), which belongs to
// no caller, so no caller's panic or exit can leave the queue without
// anyone to run it. There is no waiting to fill a batch: a batch is
// whatever queued while the previous one ran, so a lone transaction runs
// at once. Every write of this process goes through this queue: InTx, and
// the Store methods that write outside it (queuedDB, sqlite.go).

// maxBatch bounds how many transactions one commit carries, so the answer
// to the first of them never waits on an unbounded queue.
const maxBatch = 32

// ErrNestedTx is InTx called from inside a function InTx runs on the same
// store: it would wait for the batch that waits for it. It fails at once
// instead of hanging.
var ErrNestedTx = errors.New("store: InTx called inside a transaction of the same store")

// batcher queues this process's transactions for the write lock in Go,
// before BEGIN IMMEDIATE. Without it, concurrent transactions of one
// process meet at SQLite's write lock, where the busy handler sleeps (1, 2,
// 5, 10 ... ms) between retries: a transaction waits for the next wake-up,
// not for the commit it queued behind, and may starve behind back-to-back
// batches. busy_timeout stays in the DSN for other processes on the same
// file. The zero value is ready to use.
type batcher struct {
	mu        sync.Mutex
	pending   []*member // queued, in order, not yet in a batch
	committer bool      // under mu: a commit goroutine is running

	// running is the goroutine whose member's function runs now (0: none),
	// for the nested-call guard.
	running atomic.Uint64
}

// member is one InTx call.
type member struct {
	ctx   context.Context
	fn    func(store.Tx) error
	gid   uint64       // the caller's goroutine, on which fn runs (follow)
	turn  chan turn    // the batch hands the transaction over
	ran   chan ranInfo // the member hands it back; buffered
	done  chan error   // the batch's outcome, for a member that ran; buffered
	taken bool         // under batcher.mu: in a batch, gets its turn
}

// turn is the open transaction, or why the member will not run.
type turn struct {
	tx  *sql.Tx
	err error
}

// ranInfo is what running one member did.
type ranInfo struct {
	err    error // the member's own failure: its savepoint was rolled back
	broken error // the batch's transaction failed; nothing of it is kept
	panic  any   // fn panicked (its savepoint rolled back); re-raised by its caller
	exited bool  // fn left its goroutine (runtime.Goexit); its savepoint rolled back
}

// inTx queues fn and returns once it has been committed (nil), or has
// failed on its own and its batch has ended (its error), or its batch
// failed (the batch's error).
func (s *Store) inTx(ctx context.Context, fn func(store.Tx) error) error {
	// The caller's goroutine number is read once, here, before the queue:
	// run marks the member's function as running on it, and a call made
	// from inside that function finds its own number there. Reading it
	// walks the stack (a few µs), so it is kept out of the write lock.
	gid := goroutineID()
	if g := s.batch.running.Load(); g != 0 && g == gid {
		return ErrNestedTx
	}
	// An ended context never runs, even when the queue is empty.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: wait for the write lock: %w", err)
	}
	m := &member{ctx: ctx, fn: fn, gid: gid, turn: make(chan turn), ran: make(chan ranInfo, 1), done: make(chan error, 1)}
	s.batch.mu.Lock()
	s.batch.pending = append(s.batch.pending, m)
	if !s.batch.committer {
		s.batch.committer = true
		go s.commit()
	}
	s.batch.mu.Unlock()
	select {
	case t := <-m.turn:
		return s.follow(m, t)
	case <-ctx.Done():
		s.batch.mu.Lock()
		if !m.taken {
			s.batch.pending = removeMember(s.batch.pending, m)
			s.batch.mu.Unlock()
			return fmt.Errorf("store: wait for the write lock: %w", ctx.Err())
		}
		s.batch.mu.Unlock()
		// A batch took m already: m answers its turn (run sees the ended
		// context and does nothing).
		return s.follow(m, <-m.turn)
	}
}

// follow runs m's turn on its caller's goroutine and waits for its answer.
func (s *Store) follow(m *member, t turn) error {
	if t.err != nil {
		return t.err
	}
	r := s.run(m, t.tx) // hands the transaction back, even on a panic or Goexit
	switch {
	case r.panic != nil:
		panic(r.panic)
	case r.broken != nil:
		return r.broken
	}
	// Its own error too waits for the batch: it may rest on what earlier
	// members wrote, which only the COMMIT makes true.
	return <-m.done
}

// commit runs batches while transactions are queued: each takes those
// queued, in their order, up to maxBatch.
func (s *Store) commit() {
	for {
		s.batch.mu.Lock()
		n := min(len(s.batch.pending), maxBatch)
		if n == 0 {
			s.batch.committer = false
			s.batch.mu.Unlock()
			return
		}
		batch := append([]*member(nil), s.batch.pending[:n]...)
		s.batch.pending = append(s.batch.pending[:0], s.batch.pending[n:]...)
		for _, m := range batch {
			m.taken = true
		}
		s.batch.mu.Unlock()
		s.commitBatch(batch)
	}
}

// commitBatch runs the members of batch one after the other in one
// transaction and commits it.
func (s *Store) commitBatch(batch []*member) {
	// The batch's transaction belongs to no caller: one caller's context
	// ending must not roll back the others' work (database/sql rolls a
	// transaction back when its context ends).
	sqlTx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		err = fmt.Errorf("store: begin: %w", err)
		for _, m := range batch {
			m.turn <- turn{err: err}
		}
		return
	}
	type waiter struct {
		m   *member
		own error // its function's own error (savepoint rolled back), or nil
	}
	var (
		waiting []waiter // ran, waiting for the commit
		broken  error
	)
	for i, m := range batch {
		m.turn <- turn{tx: sqlTx}
		r := <-m.ran
		if r.broken != nil {
			broken = r.broken
			for _, later := range batch[i+1:] {
				later.turn <- turn{err: broken}
			}
			break
		}
		if r.panic == nil && !r.exited {
			waiting = append(waiting, waiter{m, r.err})
		}
	}
	if broken != nil {
		sqlTx.Rollback()
	} else if err := sqlTx.Commit(); err != nil {
		broken = fmt.Errorf("store: commit: %w", err)
	}
	for _, w := range waiting {
		if broken != nil {
			w.m.done <- broken
		} else {
			w.m.done <- w.own // nil: committed
		}
	}
}

// run runs m's function in a savepoint of tx, with the clock read now that
// the write lock is held, and hands the transaction back on m.ran: always,
// also when fn panics or leaves its goroutine (runtime.Goexit), in which
// case its savepoint is undone first.
func (s *Store) run(m *member, sqlTx *sql.Tx) (r ranInfo) {
	// Statements of the batch's transaction are run on a context that
	// does not end: a statement interrupted by a context's end would roll
	// back the whole transaction, everyone's work with it.
	bg := context.Background()
	undo := func() error {
		if _, err := sqlTx.ExecContext(bg, `ROLLBACK TO member`); err != nil {
			return fmt.Errorf("store: roll back to savepoint: %w", err)
		}
		if _, err := sqlTx.ExecContext(bg, `RELEASE member`); err != nil {
			return fmt.Errorf("store: release savepoint: %w", err)
		}
		return nil
	}
	inFn := false // true while fn runs: a deferred call that sees it true saw fn panic or exit
	defer func() {
		if inFn {
			s.batch.running.Store(0)
			p := recover()
			r = ranInfo{panic: p, exited: p == nil}
			if err := undo(); err != nil {
				r.broken = err
			}
		}
		m.ran <- r
	}()
	if err := m.ctx.Err(); err != nil {
		return ranInfo{err: fmt.Errorf("store: wait for the write lock: %w", err)}
	}
	if _, err := sqlTx.ExecContext(bg, `SAVEPOINT member`); err != nil {
		return ranInfo{broken: fmt.Errorf("store: savepoint: %w", err)}
	}
	s.batch.running.Store(m.gid)
	inFn = true
	err := m.fn(newTx(sqlTx, s))
	inFn = false
	s.batch.running.Store(0)
	if err != nil {
		r := ranInfo{err: err}
		if uerr := undo(); uerr != nil {
			// The batch's error goes to every member: it must not match
			// this caller's sentinels (errors.Is/As) in theirs, so the
			// caller's error is named, not wrapped.
			r.broken = fmt.Errorf("%w (after a transaction failed: %v)", uerr, err)
		}
		return r
	}
	if _, err := sqlTx.ExecContext(bg, `RELEASE member`); err != nil {
		return ranInfo{broken: fmt.Errorf("store: release savepoint: %w", err)}
	}
	return ranInfo{}
}

// goroutineID is the number of the calling goroutine, read from the
// first line of its stack ("goroutine 123 [running]:"). Go gives
// functions no context of their own, and fn takes none from InTx, so the
// nested-call guard knows the goroutine running a function by its number.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

func removeMember(list []*member, m *member) []*member {
	for i, x := range list {
		if x == m {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}
