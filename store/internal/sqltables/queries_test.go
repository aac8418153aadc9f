package sqltables

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// execLog is a DB that records each Exec as "table limits" and answers it
// with the next row count given for its table (the one after DELETE FROM).
type execLog struct {
	DB
	counts map[string][]int64
	execs  []string
}

func (l *execLog) Exec(_ context.Context, query string, args ...any) (int64, error) {
	table := strings.Fields(strings.TrimPrefix(query, "DELETE FROM "))[0]
	l.execs = append(l.execs, fmt.Sprint(table, " ", args[3:]))
	next := l.counts[table]
	if len(next) == 0 {
		return 0, nil
	}
	l.counts[table] = next[1:]
	return next[0], nil
}

// DeleteExpired removes a batch's tokens and events in statements of at
// most ChildRowsPerStatement rows, as many as it takes, before the
// sessions themselves, each statement picking the same batch of sessions:
// no statement holds SQLite's write lock for a long-lived session's whole
// history.
func TestDeleteExpiredDeletesChildrenInBoundedStatements(t *testing.T) {
	l := &execLog{counts: map[string][]int64{
		"refresh_tokens": {ChildRowsPerStatement, ChildRowsPerStatement, 7},
		"session_events": {3},
		"sessions":       {2},
	}}
	q := Queries{DB: l, Now: func() time.Time { return time.UnixMilli(0) }, Unavailable: func(err error) error { return err }}
	n, err := q.DeleteExpired(context.Background(), 2)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2 sessions", n, err)
	}
	child := fmt.Sprint(" [2 ", ChildRowsPerStatement, "]")
	want := []string{"refresh_tokens" + child, "refresh_tokens" + child, "refresh_tokens" + child, "session_events" + child, "sessions [2]"}
	if !slices.Equal(l.execs, want) {
		t.Errorf("statements %q, want %q", l.execs, want)
	}
}
