package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"tokenflow/store"
)

// NewStorePair returns two Store values on one fresh database (two pools,
// or two handles on one file), as two instances of the app would have,
// both with the clock now and closed when t ends.
type NewStorePair func(t *testing.T, now func() time.Time) (store.Store, store.Store)

// RunTwoStores runs the cases that need two instances: what serialises
// rotations must be the database, not anything one Store value holds.
func RunTwoStores(t *testing.T, newPair NewStorePair) {
	t.Run("TwoStoresRotateOneTokenOnce", func(t *testing.T) { twoStoresRotateOneTokenOnce(t, newPair) })
	t.Run("TwoStoresSerializeOneSession", func(t *testing.T) { twoStoresSerializeOneSession(t, newPair) })
}

// Goroutines of two instances race to rotate one refresh token: exactly
// one finds it current, and only its successor is stored.
func twoStoresRotateOneTokenOnce(t *testing.T, newPair NewStorePair) {
	now := t0
	a, b := newPair(t, func() time.Time { return now })
	stores := []store.Store{a, b}
	sess := mustSession(t, a, mustUser(t, a, "alice").ID, "h1")
	ctx := context.Background()
	const workers = 16
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		winners []int
		errs    = make([]error, workers)
	)
	for i := range workers {
		wg.Go(func() {
			<-start
			errs[i] = stores[i%2].InTx(ctx, func(tx store.Tx) error {
				tok, _, _, err := tx.TokenForUpdate(ctx, "h1")
				if err != nil || tok.Used() {
					return err
				}
				id, err := tx.InsertRefreshToken(ctx, sess.ID, fmt.Sprintf("h2-%d", i), time.Time{})
				if err != nil {
					return err
				}
				if err := tx.MarkRefreshTokenUsed(ctx, tok.ID, id, tx.Now(), tx.Now()); err != nil {
					return err
				}
				mu.Lock()
				winners = append(winners, i)
				mu.Unlock()
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d transactions of two instances found h1 current (%v), want exactly 1", len(winners), winners)
	}
	for i := range workers {
		for j, s := range stores {
			if unknown := refreshUnknown(t, s, fmt.Sprintf("h2-%d", i)); unknown == (i == winners[0]) {
				t.Errorf("instance %d: token h2-%d unknown %v, want only the winner's stored", j, i, unknown)
			}
		}
	}
}

// Branches of one session rotated from two instances at once run one
// after the other: each moves the session's last use on by a millisecond
// and no move is lost.
func twoStoresSerializeOneSession(t *testing.T, newPair NewStorePair) {
	now := t0
	a, b := newPair(t, func() time.Time { return now })
	stores := []store.Store{a, b}
	sess := mustSession(t, a, mustUser(t, a, "alice").ID, "branch-0")
	ctx := context.Background()
	const branches, perBranch = 4, 4
	inTx(t, b, func(tx store.Tx) error {
		for i := 1; i < branches; i++ {
			if _, err := tx.InsertRefreshToken(ctx, sess.ID, fmt.Sprintf("branch-%d", i), time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, branches*perBranch)
	)
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = stores[(i/branches)%2].InTx(ctx, func(tx store.Tx) error {
				_, got, _, err := tx.TokenForUpdate(ctx, fmt.Sprintf("branch-%d", i%branches))
				if err != nil {
					return err
				}
				got.LastUsedAt = got.LastUsedAt.Add(time.Millisecond)
				return tx.SetSessionUse(ctx, got)
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	want := t0.Add(time.Duration(len(errs)) * time.Millisecond)
	for j, s := range stores {
		if got := mustSessionByID(t, s, sess.ID).LastUsedAt; !got.Equal(want) {
			t.Errorf("instance %d: LastUsedAt = %v, want %v: %d moves were lost", j, got, want, want.Sub(got)/time.Millisecond)
		}
	}
}
