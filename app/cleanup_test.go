package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/internal/testkit"
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
	var deleted atomic.Int64
	drained := f.drained
	stop := startCleanup(f, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), func(n int) { deleted.Add(int64(n)) })
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("cleanup never drained the table")
	}
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) < 3 || f.batches[0] != cleanupBatch || f.batches[1] != cleanupBatch || f.batches[2] != 7 {
		t.Fatalf("batches %v, want 500, 500, 7 in the first round", f.batches)
	}
	if got := deleted.Load(); got != 2*cleanupBatch+7 {
		t.Errorf("%d deletions counted, want %d", got, 2*cleanupBatch+7)
	}
}

// blockingDeleter's DeleteExpired runs until its context ends, then reports
// the cancellation, as a database call would.
type blockingDeleter struct {
	entered  chan struct{}
	returned atomic.Bool
}

func (b *blockingDeleter) DeleteExpired(ctx context.Context, _ int) (int, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond) // a call takes a moment to unwind
	b.returned.Store(true)
	return 0, ctx.Err()
}

// Shutdown stops the cleanup job and waits for it, so the store is never
// closed under a running DELETE, and the cancelled batch logs no failure.
func TestStopCleanupWaitsForTheJob(t *testing.T) {
	var logs bytes.Buffer
	b := &blockingDeleter{entered: make(chan struct{}, 1)}
	stop := startCleanup(b, time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)), func(int) {})
	select {
	case <-b.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the cleanup job never ran")
	}
	stop()
	if !b.returned.Load() {
		t.Fatal("stop returned while DeleteExpired was still running")
	}
	if strings.Contains(logs.String(), "cleanup failed") {
		t.Errorf("a stopped cleanup logged a failure: %s", logs.String())
	}
}

// The same through Run: a cleanup every millisecond, then shutdown, and no
// "cleanup failed" in the log.
func TestShutdownLogsNoCleanupFailure(t *testing.T) {
	vars := map[string]string{"ADDR": "127.0.0.1:0", "DATA_DIR": filepath.Join(t.TempDir(), "data"), "CLEANUP_INTERVAL": "1ms"}
	for range 3 {
		_, _, stderr, stop := startInProcessLogs(t, vars)
		time.Sleep(30 * time.Millisecond)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stderr.String(), "cleanup failed") {
			t.Fatalf("shutdown logged a cleanup failure:\n%s", stderr.String())
		}
	}
}

// The cleanup job counts the dead sessions it deletes: a session past its
// lifetime (by the injected clock) goes within a few cleanup intervals.
func TestMetricsCountSessionsTheCleanupDeleted(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	vars := testEnv(t)
	vars["CLEANUP_INTERVAL"] = "10ms"
	base, metricsURL := startWithMetrics(t, Options{Now: clock}, vars)
	register(t, newClient(t), base, "ephemeral", "a long password")
	if got := metricValue(t, metricsURL, `tokenflow_active_sessions`); got != 1 {
		t.Fatalf("active sessions %v, want 1", got)
	}
	mu.Lock()
	now = now.Add(365 * 24 * time.Hour) // past every session lifetime
	mu.Unlock()
	testkit.WaitFor(t, "the cleanup to count the expired session", func() bool {
		return metricValue(t, metricsURL, `tokenflow_sessions_deleted_total`) == 1
	})
}
