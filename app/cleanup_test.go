package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fakeDeleter has `left` dead sessions and records each batch asked for.
type fakeDeleter struct {
	mu      sync.Mutex
	left    int
	batches []int
	drained chan struct{}
}

func (f *fakeDeleter) DeleteExpired(_ context.Context, batch int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := min(batch, f.left)
	f.left -= n
	f.batches = append(f.batches, n)
	if f.left == 0 && n < batch && f.drained != nil {
		close(f.drained)
		f.drained = nil
	}
	return n, nil
}

func TestCleanupLoopDeletesInBoundedBatchesUntilDrained(t *testing.T) {
	f := &fakeDeleter{left: 2*cleanupBatch + 7, drained: make(chan struct{})}
	drained := f.drained
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cleanupLoop(ctx, f, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("cleanup never drained the table")
	}
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) < 3 || f.batches[0] != cleanupBatch || f.batches[1] != cleanupBatch || f.batches[2] != 7 {
		t.Fatalf("batches %v, want 500, 500, 7 in the first round", f.batches)
	}
}
