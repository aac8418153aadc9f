package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"tokenflow/store"
)

// SessionTimeline answers what Session and SessionEvents answer, in one
// read: the same session, the same events in the same order, the limit
// counted in events (not rows), ErrNotFound for an unknown session.
func (c contract) sessionTimeline(t *testing.T) {
	now := T0
	s := c.open(t, &now)
	ctx := context.Background()
	alice := MustUser(t, s, "alice")
	sess := MustSession(t, s, alice.ID, "r0")
	for i := range 5 {
		now = now.Add(time.Second)
		kind := store.EventRefresh
		if i == 2 {
			kind = store.EventRefreshGrace
		}
		inTx(t, s, func(tx store.Tx) error {
			return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: alice.ID, Kind: kind, At: tx.Now(), IP: "198.51.100.7", UserAgent: "ua", Detail: "d"})
		})
	}
	// Two events at one instant: the id breaks the tie, as in SessionEvents.
	inTx(t, s, func(tx store.Tx) error {
		return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: alice.ID, Kind: store.EventRefresh, At: tx.Now()})
	})
	other := MustSession(t, s, alice.ID, "other")
	Revoke(t, s, other.ID, store.EventRevoked)

	for _, tc := range []struct {
		name  string
		id    string
		limit int
	}{
		{"ok, all", sess.ID, 0},
		{"ok, negative limit is all", sess.ID, -1},
		{"ok, limit below the count", sess.ID, 3},
		{"ok, limit of one", sess.ID, 1},
		{"ok, limit above the count", sess.ID, 50},
		{"ok, a revoked session", other.ID, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantSess := MustSessionByID(t, s, tc.id)
			wantEvents, err := s.SessionEvents(ctx, tc.id, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			gotSess, gotEvents, err := s.SessionTimeline(ctx, tc.id, tc.limit)
			if err != nil {
				t.Fatalf("SessionTimeline: %v", err)
			}
			if !reflect.DeepEqual(gotSess, wantSess) {
				t.Errorf("session\n got  %+v\n want %+v", gotSess, wantSess)
			}
			if len(gotEvents) == 0 || !reflect.DeepEqual(gotEvents, wantEvents) {
				t.Errorf("events\n got  %+v\n want %+v", gotEvents, wantEvents)
			}
		})
	}

	t.Run("nok, unknown session", func(t *testing.T) {
		if _, _, err := s.SessionTimeline(ctx, "no-such-session", 10); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("ok, a fresh session: its login", func(t *testing.T) {
		bob := MustUser(t, s, "bob")
		fresh := MustSession(t, s, bob.ID, "fresh")
		got, events, err := s.SessionTimeline(ctx, fresh.ID, 0)
		if err != nil || got.ID != fresh.ID || len(events) != 1 || events[0].Kind != store.EventLogin {
			t.Fatalf("SessionTimeline = %+v, %+v, %v; want the session and its login", got, events, err)
		}
	})
}
