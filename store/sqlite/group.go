package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

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
//     nothing it wrote is kept, and the others' work is untouched. Its
//     caller gets its error (or the panic) at once.
//   - A function that succeeds gets its answer only after the COMMIT: nil
//     when the batch is on disk, the commit's error when it is not. No
//     caller ever hears "done" for work that is not durable.
//   - A failure of the batch itself (BEGIN, SAVEPOINT, RELEASE, ROLLBACK
//     TO, COMMIT: the disk, not a caller's function) fails every member
//     that has not had its answer, and nothing of the batch is kept.
//
// There is no waiting to fill a batch: a batch is whatever queued while
// the previous one held the lock, so a lone transaction runs at once.

// maxBatch bounds how many transactions one commit carries, so the answer
// to the first of them never waits on an unbounded queue.
const maxBatch = 32

// batcher queues this process's transactions for the write lock in Go,
// before BEGIN IMMEDIATE. Without it, concurrent transactions of one
// process meet at SQLite's write lock, where the busy handler sleeps (1, 2,
// 5, 10 ... ms) between retries: a transaction waits for the next wake-up,
// not for the commit it queued behind. busy_timeout stays in the DSN for
// other processes on the same file and for the writes outside InTx. The
// zero value is ready to use.
type batcher struct {
	once sync.Once
	lock chan struct{} // holds one token while a leader runs a batch

	mu      sync.Mutex
	pending []*member
}

func (b *batcher) lockChan() chan struct{} {
	b.once.Do(func() { b.lock = make(chan struct{}, 1) })
	return b.lock
}

// member is one InTx call.
type member struct {
	ctx   context.Context
	fn    func(store.Tx) error
	turn  chan turn    // the leader hands the transaction over
	ran   chan ranInfo // the member hands it back
	done  chan error   // the batch's outcome, for a member whose fn succeeded; buffered
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
}

// inTx queues fn and returns once it has been committed (nil), or has
// failed on its own (its error), or its batch failed (the batch's error).
func (s *Store) inTx(ctx context.Context, fn func(store.Tx) error) error {
	// An ended context never runs, even when the lock is free.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: wait for the write lock: %w", err)
	}
	m := &member{ctx: ctx, fn: fn, turn: make(chan turn), ran: make(chan ranInfo), done: make(chan error, 1)}
	s.batch.mu.Lock()
	s.batch.pending = append(s.batch.pending, m)
	s.batch.mu.Unlock()
	lock := s.batch.lockChan()
	select {
	case lock <- struct{}{}:
		// m leads: it is still pending (a member in a batch gets its turn
		// while the batch's leader holds the lock, so before m could win it).
		p := s.lead(m)
		<-lock
		if p != nil {
			panic(p)
		}
		return <-m.done
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
		// A leader took m already: m answers its turn (run sees the ended
		// context and does nothing).
		return s.follow(m, <-m.turn)
	}
}

// follow runs m's turn on its caller's goroutine and waits for its answer.
func (s *Store) follow(m *member, t turn) error {
	if t.err != nil {
		return t.err
	}
	r := s.run(m, t.tx)
	m.ran <- r
	switch {
	case r.panic != nil:
		panic(r.panic)
	case r.broken != nil:
		return r.broken
	case r.err != nil:
		return r.err
	}
	return <-m.done
}

// lead takes the write lock's batch: self first, then whoever else queued,
// up to maxBatch. It returns self's panic, if its fn panicked, for the
// caller to re-raise once the lock is released; self's answer is in
// self.done.
func (s *Store) lead(self *member) (selfPanic any) {
	s.batch.mu.Lock()
	batch := []*member{self}
	for _, m := range s.batch.pending {
		if m != self && len(batch) < maxBatch {
			batch = append(batch, m)
		}
	}
	for _, m := range batch {
		m.taken = true
		s.batch.pending = removeMember(s.batch.pending, m)
	}
	s.batch.mu.Unlock()

	// The batch's transaction belongs to no caller: one caller's context
	// ending must not roll back the others' work (database/sql rolls a
	// transaction back when its context ends).
	sqlTx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		err = fmt.Errorf("store: begin: %w", err)
		self.done <- err
		for _, m := range batch[1:] {
			m.turn <- turn{err: err}
		}
		return nil
	}
	var (
		waiting []*member // succeeded, waiting for the commit
		broken  error
	)
	for i, m := range batch {
		var r ranInfo
		if m == self {
			r = s.run(m, sqlTx)
		} else {
			m.turn <- turn{tx: sqlTx}
			r = <-m.ran
		}
		switch {
		case m == self && r.panic != nil:
			selfPanic = r.panic
		case m == self && r.broken == nil && r.err != nil:
			self.done <- r.err
		}
		if r.broken != nil {
			broken = r.broken
			if m == self {
				self.done <- broken
			}
			for _, later := range batch[i+1:] {
				later.turn <- turn{err: broken}
			}
			break
		}
		if r.err == nil && r.panic == nil {
			waiting = append(waiting, m)
		}
	}
	if broken != nil {
		sqlTx.Rollback()
	} else if err := sqlTx.Commit(); err != nil {
		broken = fmt.Errorf("store: commit: %w", err)
	}
	for _, m := range waiting {
		m.done <- broken // nil: committed
	}
	return selfPanic
}

// run runs m's function in a savepoint of tx, with the clock read now that
// the write lock is held.
func (s *Store) run(m *member, sqlTx *sql.Tx) (r ranInfo) {
	if err := m.ctx.Err(); err != nil {
		return ranInfo{err: fmt.Errorf("store: wait for the write lock: %w", err)}
	}
	// Statements of the batch's transaction are run on a context that
	// does not end: a statement interrupted by a context's end would roll
	// back the whole transaction, everyone's work with it.
	bg := context.Background()
	if _, err := sqlTx.ExecContext(bg, `SAVEPOINT member`); err != nil {
		return ranInfo{broken: fmt.Errorf("store: savepoint: %w", err)}
	}
	undo := func() error {
		if _, err := sqlTx.ExecContext(bg, `ROLLBACK TO member`); err != nil {
			return fmt.Errorf("store: roll back to savepoint: %w", err)
		}
		if _, err := sqlTx.ExecContext(bg, `RELEASE member`); err != nil {
			return fmt.Errorf("store: release savepoint: %w", err)
		}
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			r = ranInfo{panic: p}
			if err := undo(); err != nil {
				r.broken = err
			}
		}
	}()
	if err := m.fn(&tx{tx: txStmts{tx: sqlTx, s: s}, now: s.now()}); err != nil {
		r := ranInfo{err: err}
		if uerr := undo(); uerr != nil {
			r.broken = errors.Join(uerr, err)
		}
		return r
	}
	if _, err := sqlTx.ExecContext(bg, `RELEASE member`); err != nil {
		return ranInfo{broken: fmt.Errorf("store: release savepoint: %w", err)}
	}
	return ranInfo{}
}

func removeMember(list []*member, m *member) []*member {
	for i, x := range list {
		if x == m {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}
