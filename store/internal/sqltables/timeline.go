package sqltables

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"tokenflow/store"
)

// TimelineQuery reads a session and its newest events in one statement:
// one row per event (the session's columns repeated; the event's
// session_id is the session's id, so it is not read twice), or one row
// with NULL event columns when it has none, so LIMIT counts events. The
// dashboard asks it on every load (docs/PERFORMANCE.md, section 5); the
// index on (session_id, at DESC, id DESC) gives the order, with no sort
// (TestSessionTimelineUsesTheIndexOrder). SQLite keeps it prepared.
const TimelineQuery = `SELECT e.id, e.user_id, e.kind, e.at, e.ip, e.user_agent, e.detail, ` + SessionColumns + `
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
	// One allocation holds every destination, reused across rows.
	r := new(struct {
		sess                     store.Session
		at                       time.Time
		eventID                  sql.NullInt64
		userID, kind, ip, ua, dt sql.NullString
		dest                     [7 + sessionColumnCount]any
	})
	r.dest[0], r.dest[1], r.dest[2] = &r.eventID, &r.userID, &r.kind
	r.dest[3], r.dest[4], r.dest[5], r.dest[6] = Millis(&r.at), &r.ip, &r.ua, &r.dt
	dest := AppendSessionDest(r.dest[:7], &r.sess)
	var (
		found  bool
		events []store.Event
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return store.Session{}, nil, err
		}
		found = true
		if r.eventID.Valid {
			events = append(events, store.Event{
				ID: r.eventID.Int64, SessionID: r.sess.ID, UserID: r.userID.String, Kind: r.kind.String,
				At: r.at, IP: r.ip.String, UserAgent: r.ua.String, Detail: r.dt.String,
			})
		}
	}
	if err := rows.Err(); err != nil {
		return store.Session{}, nil, err
	}
	if !found {
		return store.Session{}, nil, store.ErrNotFound
	}
	return r.sess, events, nil
}
