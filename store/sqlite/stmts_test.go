package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"tokenflow/store"
	"tokenflow/store/storetest"
)

// TestPreparedStatementsSurviveSchemaChange: another process changes the
// schema (a new column, a new index) while this one holds prepared
// statements: SQLite prepares them again (prepare_v2), so the next
// transaction works.
func TestPreparedStatementsSurviveSchemaChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "tokenflow.db")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := openStore(t, path, &now)
	u := storetest.MustUser(t, s, "schema")
	sess := storetest.MustSession(t, s, u.ID, "schema-hash")
	ctx := context.Background()
	step := func() error {
		return s.InTx(ctx, func(tx store.Tx) error {
			if _, _, _, err := tx.TokenForUpdate(ctx, "schema-hash"); err != nil {
				return err
			}
			return tx.InsertEvent(ctx, store.Event{SessionID: sess.ID, UserID: u.ID, Kind: store.EventRefresh, At: now})
		})
	}
	if err := step(); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, path, &now)
	for _, q := range []string{
		`ALTER TABLE sessions ADD COLUMN extra TEXT`,
		`CREATE INDEX session_events_kind ON session_events(kind)`,
		`ALTER TABLE refresh_tokens ADD COLUMN extra INTEGER`,
	} {
		if _, err := other.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := step(); err != nil {
		t.Fatalf("after another connection changed the schema: %v", err)
	}
}
