package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/storetest"
)

// What only the tables show: the contract suite sees these behaviours
// through the interface; these tests pin how SQLite keeps them.

// A used token records when it was used and which token replaced it.
func TestMarkRefreshTokenUsedLinksTheReplacement(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	storetest.MustSession(t, s, storetest.MustUser(t, s, "alice").ID, "h1")
	now = now.Add(10 * time.Minute)
	storetest.UseToken(t, s, "h1", "h2")

	var usedAt, replacedBy, newID int64
	if err := s.db.QueryRow(`SELECT used_at, replaced_by FROM refresh_tokens WHERE token_hash = 'h1'`).Scan(&usedAt, &replacedBy); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`SELECT id FROM refresh_tokens WHERE token_hash = 'h2'`).Scan(&newID); err != nil {
		t.Fatal(err)
	}
	if usedAt != now.UnixMilli() || replacedBy != newID {
		t.Errorf("old token used_at=%d replaced_by=%d, want %d and %d", usedAt, replacedBy, now.UnixMilli(), newID)
	}
}

// Revoking for reuse marks every token of the session used, not only the
// ones a caller happens to know.
func TestRevokeSessionAndTokensMarksEveryTokenUsed(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	sess := storetest.MustSession(t, s, storetest.MustUser(t, s, "alice").ID, "h1")
	storetest.UseToken(t, s, "h1", "h2")
	ctx := context.Background()
	if err := s.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.InsertRefreshToken(ctx, sess.ID, "h2b", now.Add(grace)); err != nil { // a live sibling
			return err
		}
		return tx.RevokeSessionAndTokens(ctx, sess.ID, store.EventReuseDetected, tx.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND used_at IS NULL`, sess.ID); n != 0 {
		t.Errorf("%d tokens still unused after reuse", n)
	}
}

// Deleting a session takes its tokens and events with it (ON DELETE
// CASCADE), so cleanup leaves no orphan rows.
func TestDeleteExpiredTakesTokensAndEvents(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	alice := storetest.MustUser(t, s, "alice")
	sess := storetest.MustSession(t, s, alice.ID, "h1")
	storetest.UseToken(t, s, "h1", "h2")
	now = now.Add(storetest.MaxAge + time.Minute)
	if n, err := s.DeleteExpired(context.Background(), 0); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	for _, table := range []string{"refresh_tokens", "session_events"} {
		if n := count(t, s, `SELECT count(*) FROM `+table+` WHERE session_id = ?`, sess.ID); n != 0 {
			t.Errorf("%s: %d rows of the deleted session", table, n)
		}
	}
}

// The event cap trims rows, not only what SessionEvents returns, and the
// trim walks the session's index rather than the whole table.
func TestSessionEventsTrimRowsThroughTheIndex(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	sess := storetest.MustSession(t, s, storetest.MustUser(t, s, "alice").ID, "r0")
	ctx := context.Background()
	for range store.MaxEventsPerSession + 20 {
		now = now.Add(time.Second)
		if err := s.InTx(ctx, func(tx store.Tx) error {
			return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: sess.UserID, Kind: store.EventRefresh, At: tx.Now()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE session_id = ?`, sess.ID); n != store.MaxEventsPerSession {
		t.Errorf("%d rows, want %d", n, store.MaxEventsPerSession)
	}

	joined := queryPlan(t, s, trimEventsSQL, sess.ID, store.EventLogin, store.MaxEventsPerSession-1)
	if strings.Contains(joined, "SCAN session_events") || !strings.Contains(joined, "session_events_session_at") {
		t.Errorf("plan: %s", joined)
	}
}
