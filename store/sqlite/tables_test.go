package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
)

// What only the tables show: the contract suite sees these behaviours
// through the interface; these tests pin how SQLite keeps them.

// A rotated token records when it was used and which token replaced it,
// and a replay inside the grace window changes neither: the window stays
// anchored at the first use.
func TestRotationLinksTheOldTokenToItsReplacement(t *testing.T) {
	now := t0
	s := newStore(t, &now)
	mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	now = now.Add(10 * time.Minute)
	mustRotate(t, s, "h1", "h2")

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

	now = now.Add(3 * time.Second)
	if _, err := rotate(s, "h1", "h2b", owner); err != nil {
		t.Fatalf("rotate within grace: %v", err)
	}
	var usedAt2, replacedBy2 int64
	if err := s.db.QueryRow(`SELECT used_at, replaced_by FROM refresh_tokens WHERE token_hash = 'h1'`).Scan(&usedAt2, &replacedBy2); err != nil {
		t.Fatal(err)
	}
	if usedAt2 != usedAt || replacedBy2 != replacedBy {
		t.Errorf("grace rotation changed the old token: used_at %d->%d, replaced_by %d->%d", usedAt, usedAt2, replacedBy, replacedBy2)
	}
}

// Reuse marks every token of the session used, not only the ones a caller
// happens to know.
func TestReuseMarksEveryTokenUsed(t *testing.T) {
	now := t0
	s := newStore(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
	mustRotate(t, s, "h1", "h2")
	now = now.Add(grace / 2)
	if _, err := rotate(s, "h1", "h2b", owner); err != nil { // a live sibling
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if _, err := rotate(s, "h1", "x", thief); err == nil {
		t.Fatal("replay after the window succeeded")
	}
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND used_at IS NULL`, sess.ID); n != 0 {
		t.Errorf("%d tokens still unused after reuse", n)
	}
}

// Deleting a session takes its tokens and events with it (ON DELETE
// CASCADE), so cleanup leaves no orphan rows.
func TestDeleteExpiredTakesTokensAndEvents(t *testing.T) {
	now := t0
	s := newStore(t, &now)
	alice := mustUser(t, s, "alice")
	sess := mustSession(t, s, alice.ID, "h1")
	mustRotate(t, s, "h1", "h2")
	now = now.Add(maxAge + time.Minute)
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
	now := t0
	s := newStore(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "r0")
	for i := range store.MaxEventsPerSession + 20 {
		now = now.Add(time.Second)
		mustRotate(t, s, fmt.Sprintf("r%d", i), fmt.Sprintf("r%d", i+1))
	}
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE session_id = ?`, sess.ID); n != store.MaxEventsPerSession {
		t.Errorf("%d rows, want %d", n, store.MaxEventsPerSession)
	}

	rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+trimEventsSQL, sess.ID, store.EventLogin, store.MaxEventsPerSession-1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "; ")
	if strings.Contains(joined, "SCAN session_events") || !strings.Contains(joined, "session_events_session_at") {
		t.Errorf("plan: %s", joined)
	}
}
