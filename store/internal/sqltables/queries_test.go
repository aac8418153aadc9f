package sqltables

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"tokenflow/store"
)

// execLog is a DB that records each Exec as "table limits" and answers it
// with the next row count given for its table (the one after DELETE FROM).
type execLog struct {
	DB
	counts map[string][]int64
	execs  []string
	onExec func(args []any) // optional
}

func (l *execLog) Exec(_ context.Context, query string, args ...any) (int64, error) {
	table := strings.Fields(strings.TrimPrefix(query, "DELETE FROM "))[0]
	l.execs = append(l.execs, fmt.Sprint(table, " ", args[3:]))
	if l.onExec != nil {
		l.onExec(args)
	}
	next := l.counts[table]
	if len(next) == 0 {
		return 0, nil
	}
	l.counts[table] = next[1:]
	return next[0], nil
}

// DeleteExpired removes a batch's tokens and events in statements of at
// most Queries.ChildRowsPerStatement rows, as many as it takes, before the
// sessions themselves, each statement picking the same batch of sessions:
// no statement holds SQLite's write lock for a long-lived session's whole
// history.
func TestDeleteExpiredDeletesChildrenInBoundedStatements(t *testing.T) {
	l := &execLog{counts: map[string][]int64{
		"session_events": {3},
		"sessions":       {2},
	}}
	const rows = 40
	l.counts["refresh_tokens"] = []int64{rows, rows, 7}
	q := Queries{DB: l, Now: func() time.Time { return time.UnixMilli(0) }, Unavailable: func(err error) error { return err },
		ChildRowsPerStatement: rows}
	n, err := q.DeleteExpired(context.Background(), 2)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2 sessions", n, err)
	}
	child := fmt.Sprint(" [2 ", rows, "]")
	want := []string{"refresh_tokens" + child, "refresh_tokens" + child, "refresh_tokens" + child, "session_events" + child, "sessions [2]"}
	if !slices.Equal(l.execs, want) {
		t.Errorf("statements %q, want %q", l.execs, want)
	}

	// Without the bound (PostgreSQL): one statement, the cascade.
	l = &execLog{counts: map[string][]int64{"sessions": {2}}}
	q.DB, q.ChildRowsPerStatement = l, 0
	if n, err := q.DeleteExpired(context.Background(), 2); err != nil || n != 2 {
		t.Fatalf("DeleteExpired without the bound = %d, %v; want 2 sessions", n, err)
	}
	if want := []string{"sessions [2]"}; !slices.Equal(l.execs, want) {
		t.Errorf("statements without the bound %q, want %q", l.execs, want)
	}
}

// A session is deleted once it has been dead for DeadMargin, not before:
// the times DeleteExpired compares with are the clock less the margin.
func TestDeleteExpiredWaitsTheDeadMargin(t *testing.T) {
	l := &execLog{counts: map[string][]int64{}}
	at := time.UnixMilli(1_000_000_000_000)
	q := Queries{DB: l, Now: func() time.Time { return at }, Unavailable: func(err error) error { return err }}
	var args []any
	l.onExec = func(a []any) { args = a }
	if _, err := q.DeleteExpired(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	deadBy := at.Add(-DeadMargin)
	want := []any{ToMillis(deadBy), ToMillis(deadBy), ToMillis(deadBy.Add(-store.RevokedRetention)), 2}
	if !slices.Equal(args, want) {
		t.Errorf("arguments %v, want %v", args, want)
	}
}
