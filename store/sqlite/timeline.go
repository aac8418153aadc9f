package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"weak"

	"tokenflow/store"
)

// timelineQuery reads a session and its newest events in one statement:
// one row per event (the session's columns repeated), or one row with
// NULL event columns when it has none, so LIMIT counts events. The
// dashboard asks this on every load; two statements cost two prepares,
// which on SQLite is most of a read's CPU (docs/PERFORMANCE.md, section
// 5). The index on (session_id, at DESC, id DESC) gives the order: no
// sort, no temporary table (TestSessionTimelineUsesTheIndexOrder).
const timelineQuery = `SELECT e.id, e.session_id, e.user_id, e.kind, e.at, e.ip, e.user_agent, e.detail, ` + sessionColumns + `
	FROM sessions s LEFT JOIN session_events e ON e.session_id = s.id
	WHERE s.id = ?
	ORDER BY e.at DESC, e.id DESC LIMIT ?`

// SessionTimeline returns the session and its newest events (at most
// limit; limit <= 0: all), most recent first. ErrNotFound when there is
// no such session.
func (s *Store) SessionTimeline(ctx context.Context, id string, limit int) (_ store.Session, _ []store.Event, err error) {
	defer func() { err = unavailable(err) }()
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	stmt, err := s.timelineStmt(ctx)
	if err != nil {
		return store.Session{}, nil, fmt.Errorf("store: session timeline: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, id, limit)
	if err != nil {
		return store.Session{}, nil, fmt.Errorf("store: session timeline: %w", err)
	}
	defer rows.Close()
	sess, events, err := store.CollectTimeline(rows, func() (store.Session, *store.Event, error) {
		var (
			eventID, at                         sql.NullInt64
			sessionID, userID, kind, ip, ua, dt sql.NullString
		)
		sess, err := scanSession(rows, &eventID, &sessionID, &userID, &kind, &at, &ip, &ua, &dt)
		if err != nil || !eventID.Valid {
			return sess, nil, err
		}
		return sess, &store.Event{ID: eventID.Int64, SessionID: sessionID.String, UserID: userID.String, Kind: kind.String,
			At: fromMillis(at.Int64), IP: ip.String, UserAgent: ua.String, Detail: dt.String}, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, nil, err
	}
	if err != nil {
		return store.Session{}, nil, fmt.Errorf("store: session timeline: %w", err)
	}
	return sess, events, nil
}

// timelineStmts holds each Store's prepared timelineQuery. Parsing the
// statement is most of what the read costs (SQLite re-parses the text of
// every db.QueryContext; database/sql keeps a prepared *sql.Stmt per
// connection), and the dashboard runs it on every load. The table is keyed
// weakly, so it holds no Store alive: when a Store is collected its entry
// goes and the statement is closed. (A field of Store would do; this keeps
// the dashboard's read in this one file.)
var timelineStmts sync.Map // weak.Pointer[Store] -> *sql.Stmt

func (s *Store) timelineStmt(ctx context.Context) (*sql.Stmt, error) {
	key := weak.Make(s)
	if stmt, ok := timelineStmts.Load(key); ok {
		return stmt.(*sql.Stmt), nil
	}
	stmt, err := s.db.PrepareContext(ctx, timelineQuery)
	if err != nil {
		return nil, err
	}
	if held, loaded := timelineStmts.LoadOrStore(key, stmt); loaded {
		stmt.Close() // another request prepared it first
		return held.(*sql.Stmt), nil
	}
	runtime.AddCleanup(s, func(key weak.Pointer[Store]) {
		if stmt, ok := timelineStmts.LoadAndDelete(key); ok {
			stmt.(*sql.Stmt).Close()
		}
	}, key)
	return stmt, nil
}
