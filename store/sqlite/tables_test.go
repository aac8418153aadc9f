package sqlite

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
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

// A session in use for weeks has thousands of used tokens: DeleteExpired
// takes them in statements of at most cleanupChildRows rows (sqltables' TestDeleteExpiredDeletesChildrenInBoundedStatements),
// and leaves none behind, nor touches a live session's.
func TestDeleteExpiredTakesALongSessionsTokens(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	alice := storetest.MustUser(t, s, "alice")
	long := storetest.MustSession(t, s, alice.ID, "long-0")
	tx, err := s.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	const used = 2*cleanupChildRows + 7
	for i := 1; i <= used; i++ {
		if _, err := tx.Exec(`INSERT INTO refresh_tokens (session_id, token_hash, created_at, used_at) VALUES (?, ?, 0, 0)`,
			long.ID, fmt.Sprintf("used-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(storetest.MaxAge - time.Minute)
	live := storetest.MustSession(t, s, alice.ID, "live-1")
	storetest.UseToken(t, s, "live-1", "live-2")
	now = now.Add(sqltables.DeadMargin + 2*time.Minute) // long has been dead past the margin; live is alive
	if n, err := s.DeleteExpired(context.Background(), 0); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	for _, table := range []string{"refresh_tokens", "session_events"} {
		if n := count(t, s, `SELECT count(*) FROM `+table+` WHERE session_id = ?`, long.ID); n != 0 {
			t.Errorf("%s: %d rows of the deleted session", table, n)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM refresh_tokens WHERE session_id = ?`, live.ID); n != 2 {
		t.Errorf("the live session has %d tokens, want 2", n)
	}
	if n := count(t, s, `SELECT count(*) FROM session_events WHERE session_id = ?`, live.ID); n == 0 {
		t.Error("the live session lost its events")
	}
}

// planDB records the plan of each statement it runs.
type planDB struct {
	sqltables.DB
	t     *testing.T
	s     *Store
	plans []string
}

func (p *planDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	p.plans = append(p.plans, queryPlan(p.t, p.s, query, args...))
	return p.DB.Exec(ctx, query, args...)
}

// Every statement of DeleteExpired reaches sessions, tokens and events
// through their indexes: with a backlog of dead sessions and many live
// ones, none scans a table, before ANALYZE and after.
func TestDeleteExpiredUsesIndexes(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	alice := storetest.MustUser(t, s, "alice")
	tx, err := s.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		idle := now.Add(time.Hour) // live
		if i%3 == 0 {
			idle = now.Add(-time.Hour) // dead past the margin
		}
		id := fmt.Sprintf("s-%d", i)
		if _, err := tx.Exec(`INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at) VALUES (?, ?, 0, 0, ?, ?)`,
			id, alice.ID, idle.UnixMilli(), now.Add(24*time.Hour).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			if _, err := tx.Exec(`INSERT INTO refresh_tokens (session_id, token_hash, created_at, used_at) VALUES (?, ?, 0, 0)`, id, fmt.Sprint(id, "-", j)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(`INSERT INTO session_events (session_id, user_id, kind, at) VALUES (?, ?, 'login', 0)`, id, alice.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, analyze := range []bool{false, true} {
		if analyze {
			if _, err := s.db.Exec(`ANALYZE`); err != nil {
				t.Fatal(err)
			}
		}
		q := s.Queries
		p := &planDB{DB: q.DB, t: t, s: s}
		q.DB = p
		if _, err := q.DeleteExpired(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
		if len(p.plans) != 3 {
			t.Errorf("analyze %v: %d statements, want 3 (tokens, events, sessions)", analyze, len(p.plans))
		}
		for _, plan := range p.plans {
			for _, scan := range []string{"SCAN sessions", "SCAN refresh_tokens", "SCAN session_events", "SCAN c"} { // SCAN d: the batch itself, at most batch rows
				if strings.Contains(plan, scan) {
					t.Errorf("analyze %v: %s: %s", analyze, scan, plan)
				}
			}
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

// A session whose events were deleted under it (no way through the
// interface: every session starts with its login) is still found, with an
// empty timeline: the LEFT JOIN's row of NULL event columns is no event.
func TestSessionTimelineWithoutEvents(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	sess := storetest.MustSession(t, s, storetest.MustUser(t, s, "alice").ID, "h1")
	if _, err := s.db.Exec(`DELETE FROM session_events WHERE session_id = ?`, sess.ID); err != nil {
		t.Fatal(err)
	}
	got, events, err := s.SessionTimeline(context.Background(), sess.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Session(context.Background(), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || len(events) != 0 {
		t.Fatalf("SessionTimeline = %+v, %+v; want %+v and no events", got, events, want)
	}
}

// The timeline is read in the index's order: no sort into a temporary
// B-tree, no materialised subquery, no scan of the events table.
func TestSessionTimelineUsesTheIndexOrder(t *testing.T) {
	now := storetest.T0
	s := newStore(t, &now)
	sess := storetest.MustSession(t, s, storetest.MustUser(t, s, "alice").ID, "h1")
	joined := queryPlan(t, s, sqltables.TimelineQuery, sess.ID, 50)
	for _, bad := range []string{"TEMP B-TREE", "MATERIALIZE", "SCAN"} {
		if strings.Contains(joined, bad) {
			t.Errorf("plan has %s: %s", bad, joined)
		}
	}
	if !strings.Contains(joined, "session_events_session_at") {
		t.Errorf("plan does not use session_events_session_at: %s", joined)
	}
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN of query, its steps joined by
// "; ".
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+query, args...)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}
