package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"tokenflow/store"
)

// faultyStore fails every transaction while down is set, as a full disk or
// a lost database connection does: the backend classifies the cause as
// store.ErrUnavailable and the transaction rolls back.
type faultyStore struct {
	testStore
	down atomic.Bool
}

var errDiskFull = errors.New("sqlite: database or disk is full (SQLITE_FULL)")

func (s *faultyStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	if s.down.Load() {
		return errors.Join(store.ErrUnavailable, errDiskFull)
	}
	return s.testStore.InTx(ctx, fn)
}

// An unavailable store is a 503 with Retry-After and one log line naming
// the cause, not a 500; the refresh token the client holds still works once
// the fault clears.
func TestStoreUnavailableIs503AndRecovers(t *testing.T) {
	var logs bytes.Buffer
	fs := &faultyStore{}
	a := newTestApp(t, func(d *testDeps) {
		fs.testStore = d.Store
		d.Store = fs
		d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	b := a.mustRegister(t, "faulty", "correct horse battery staple")
	before := b.cookie(RefreshCookie)

	fs.down.Store(true)
	w := b.fetchRefresh()
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("refresh while the store is down: status %d, want 503; body %s", w.Code, w.Body.String())
	}
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	var body apiError
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "service_unavailable" {
		t.Errorf("JSON body %q (%v), want error service_unavailable", w.Body.String(), err)
	}
	if got := b.cookie(RefreshCookie); got != before {
		t.Error("the refresh cookie changed during the fault")
	}
	if n := strings.Count(logs.String(), "store unavailable"); n != 1 {
		t.Errorf("%d log lines naming the store, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "SQLITE_FULL") {
		t.Errorf("log does not name the cause:\n%s", logs.String())
	}

	fs.down.Store(false)
	if w := b.fetchRefresh(); w.Code != http.StatusOK {
		t.Fatalf("refresh after the fault cleared: status %d, body %s", w.Code, w.Body.String())
	}
}
