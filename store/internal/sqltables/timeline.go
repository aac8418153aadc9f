package sqltables

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"tokenflow/store"
)

// TimelineQuery reads a session and its newest events in one statement:
// one row per event (the session's columns repeated), or one row with
// NULL event columns when it has none, so LIMIT counts events. The
// dashboard asks it on every load (docs/PERFORMANCE.md, section 5); the
// index on (session_id, at DESC, id DESC) gives the order, with no sort
// (TestSessionTimelineUsesTheIndexOrder). SQLite keeps it prepared.
const TimelineQuery = `SELECT e.id, e.session_id, e.user_id, e.kind, e.at, e.ip, e.user_agent, e.detail, ` + SessionColumns + `
	FROM sessions s LEFT JOIN session_events e ON e.session_id = s.id
	WHERE s.id = ?
	ORDER BY e.at DESC, e.id DESC LIMIT ?`

// SessionTimeline returns the session and its newest events (at most
// limit; limit <= 0: all), most recent first: what Session and
// SessionEvents answer, in one read. ErrNotFound when there is no such
// session.
func (q Queries) SessionTimeline(ctx context.Context, id string, limit int) (store.Session, []store.Event, error) {
	var max any = limit
	if limit <= 0 {
		max = q.NoLimit
	}
	rows, err := q.DB.Query(ctx, TimelineQuery, id, max)
	if err != nil {
		return store.Session{}, nil, q.Unavailable(fmt.Errorf("store: session timeline: %w", err))
	}
	sess, events, err := collectTimeline(rows)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, nil, err
	case err != nil:
		return store.Session{}, nil, q.Unavailable(fmt.Errorf("store: session timeline: %w", err))
	}
	return sess, events, nil
}

// collectTimeline gathers TimelineQuery's rows: each carries the session
// and at most one event (NULL event columns for a session without
// events). ErrNotFound when there is no row. It closes rows.
func collectTimeline(rows Rows) (store.Session, []store.Event, error) {
	defer closeRows(rows)
	var (
		sess   store.Session
		found  bool
		events []store.Event
	)
	for rows.Next() {
		var (
			e                                   store.Event
			eventID                             sql.NullInt64
			sessionID, userID, kind, ip, ua, dt sql.NullString
		)
		dest := append([]any{&eventID, &sessionID, &userID, &kind, Millis(&e.At), &ip, &ua, &dt}, SessionDest(&sess)...)
		if err := rows.Scan(dest...); err != nil {
			return store.Session{}, nil, err
		}
		found = true
		if eventID.Valid {
			e.ID, e.SessionID, e.UserID, e.Kind = eventID.Int64, sessionID.String, userID.String, kind.String
			e.IP, e.UserAgent, e.Detail = ip.String, ua.String, dt.String
			events = append(events, e)
		}
	}
	if err := rows.Err(); err != nil {
		return store.Session{}, nil, err
	}
	if !found {
		return store.Session{}, nil, store.ErrNotFound
	}
	return sess, events, nil
}
