package sqlite

import (
	"context"
	"database/sql"

	"tokenflow/store"
	"tokenflow/store/internal/sqltables"
)

// SessionTimeline is sqltables.Queries.SessionTimeline on a prepared
// statement (stmts.go): SQLite parses the text of every query anew, and for the
// dashboard's one read, asked on every load, the parse is most of its CPU
// (docs/PERFORMANCE.md, section 5).
func (s *Store) SessionTimeline(ctx context.Context, id string, limit int) (store.Session, []store.Event, error) {
	stmt, err := s.stmts.get(ctx, s.db, sqltables.TimelineQuery)
	if err != nil {
		return store.Session{}, nil, unavailable(err)
	}
	q := s.queries()
	q.DB = sqltables.SQLDB{DB: prepared{DB: s.db, query: sqltables.TimelineQuery, stmt: stmt}}
	return q.SessionTimeline(ctx, id, limit)
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
