package postgres

import (
	"context"
	"errors"
	"fmt"

	"tokenflow/store"
)

// timelineQuery reads a session and its newest events in one statement:
// one row per event (the session's columns repeated), or one row with NULL
// event columns when it has none, so LIMIT counts events; one round trip
// for the dashboard.
const timelineQuery = `SELECT e.id, e.session_id, e.user_id, e.kind, e.at, e.ip, e.user_agent, e.detail, ` + sessionColumns + `
	FROM sessions s LEFT JOIN session_events e ON e.session_id = s.id
	WHERE s.id = $1
	ORDER BY e.at DESC, e.id DESC LIMIT $2`

// SessionTimeline returns the session and its newest events (at most
// limit; limit <= 0: all), most recent first. ErrNotFound when there is
// no such session.
func (s *Store) SessionTimeline(ctx context.Context, id string, limit int) (_ store.Session, _ []store.Event, err error) {
	defer func() { err = unavailable(err) }()
	var max *int // NULL: LIMIT ALL
	if limit > 0 {
		max = &limit
	}
	rows, err := s.pool.Query(ctx, timelineQuery, id, max)
	if err != nil {
		return store.Session{}, nil, fmt.Errorf("store: session timeline: %w", err)
	}
	defer rows.Close()
	sess, events, err := store.CollectTimeline(rows, func() (store.Session, *store.Event, error) {
		var (
			eventID, at                         *int64
			sessionID, userID, kind, ip, ua, dt *string
		)
		sess, err := scanSession(rows, &eventID, &sessionID, &userID, &kind, &at, &ip, &ua, &dt)
		if err != nil || eventID == nil {
			return sess, nil, err
		}
		return sess, &store.Event{ID: *eventID, SessionID: deref(sessionID), UserID: deref(userID), Kind: deref(kind),
			At: fromMillis(deref(at)), IP: deref(ip), UserAgent: deref(ua), Detail: deref(dt)}, nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, nil, err
	case err != nil:
		return store.Session{}, nil, fmt.Errorf("store: session timeline: %w", err)
	}
	return sess, events, nil
}

// deref is the value p points to, or the zero value for NULL.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
