package sqlite

import (
	"context"
	"reflect"
	"testing"
)

// A session whose events were deleted under it (no way through the
// interface: every session starts with its login) is still found, with an
// empty timeline: the LEFT JOIN's row of NULL event columns is no event.
func TestSessionTimelineWithoutEvents(t *testing.T) {
	now := t0
	s := newStore(t, &now)
	sess := mustSession(t, s, mustUser(t, s, "alice").ID, "h1")
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
