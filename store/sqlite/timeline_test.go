package sqlite

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"tokenflow/store/internal/sqltables"
	"tokenflow/store/storetest"
)

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
