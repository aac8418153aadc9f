package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
)

// SessionTimeline is sqltables.Queries.SessionTimeline on a prepared
// statement: SQLite parses the text of every query anew, and for the
// dashboard's one read, asked on every load, the parse is most of its CPU
// (docs/PERFORMANCE.md, section 5).
func (s *Store) SessionTimeline(ctx context.Context, id string, limit int) (store.Session, []store.Event, error) {
	stmt, err := s.timeline.get(ctx, s.db)
	if err != nil {
		return store.Session{}, nil, unavailable(err)
	}
	q := s.queries()
	q.DB = sqltables.SQLDB{DB: prepared{DB: s.db, query: sqltables.TimelineQuery, stmt: stmt}}
	return q.SessionTimeline(ctx, id, limit)
}

// timelineStatement is TimelineQuery prepared on first use and kept until the
// store closes (database/sql prepares it again on each connection it
// runs on).
type timelineStatement struct {
	mu   sync.Mutex
	stmt *sql.Stmt
}

func (p *timelineStatement) get(ctx context.Context, db *sql.DB) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stmt == nil {
		stmt, err := db.PrepareContext(ctx, sqltables.TimelineQuery)
		if err != nil {
			return nil, err
		}
		p.stmt = stmt
	}
	return p.stmt, nil
}

func (p *timelineStatement) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stmt != nil {
		p.stmt.Close()
		p.stmt = nil
	}
}

// prepared runs query on stmt and every other statement on DB.
type prepared struct {
	*sql.DB
	query string
	stmt  *sql.Stmt
}

func (p prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if query == p.query {
		return p.stmt.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}
