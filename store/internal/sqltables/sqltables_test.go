package sqltables

import (
	"testing"
	"time"

	"tokenflow/store"
)

// Dollar numbers the placeholders only: a ? inside a string, a quoted
// name, a comment or a dollar-quoted body, or in one of PostgreSQL's
// operators spelt with ?, is not one, and numbering it would shift every
// later argument onto the wrong column.
func TestDollar(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ok, placeholders", `UPDATE t SET a = ? WHERE id = ?`, `UPDATE t SET a = $1 WHERE id = $2`},
		{"ok, none", `SELECT 1`, `SELECT 1`},
		{"ok, across lines", "VALUES (?, ?,\n\t?)", "VALUES ($1, $2,\n\t$3)"},
		{"ok, next to other tokens", `WHERE a=? AND b IN (?,?)`, `WHERE a=$1 AND b IN ($2,$3)`},
		{"ok, concatenated", `SELECT ? || ?`, `SELECT $1 || $2`},
		{"ok, multibyte text around", `SELECT 'é?' || ? AS "ü?"`, `SELECT 'é?' || $1 AS "ü?"`},
		{"ok, string literal", `SELECT '?' || ? FROM t`, `SELECT '?' || $1 FROM t`},
		{"ok, doubled quote in a literal", `SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{"ok, backslash escape in E''", `SELECT E'\'?', ?`, `SELECT E'\'?', $1`},
		{"ok, backslash is plain in ''", `SELECT '\', ?`, `SELECT '\', $1`},
		{"ok, quoted name", `SELECT "a?""b" FROM t WHERE x = ?`, `SELECT "a?""b" FROM t WHERE x = $1`},
		{"ok, line comment", "SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"ok, nested block comment", `SELECT /* ? /* ? */ ? */ ?`, `SELECT /* ? /* ? */ ? */ $1`},
		{"ok, dollar-quoted body", `SELECT $$?$$, $q$ ? $$ ? $q$, ?`, `SELECT $$?$$, $q$ ? $$ ? $q$, $1`},
		{"ok, $ inside a name is no quote", `SELECT a$b, ? FROM t$`, `SELECT a$b, $1 FROM t$`},
		{"ok, jsonb any-key operator", `SELECT 1 FROM t WHERE d ?| ? `, `SELECT 1 FROM t WHERE d ?| $1 `},
		{"ok, jsonb all-keys operator", `WHERE d ?& ?`, `WHERE d ?& $1`},
		{"ok, jsonpath operator", `WHERE d @? ?`, `WHERE d @? $1`},
		{"ok, ?? is the jsonb key operator", `WHERE d ?? ?`, `WHERE d ? $1`},
		{"ok, unterminated literal left to the server", `SELECT ?, 'a?`, `SELECT $1, 'a?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Dollar(tt.in); got != tt.want {
				t.Errorf("Dollar(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The contract suite (store/storetest) scans every column through both
// drivers; these are the values a driver should never hand over.
func TestMillisScan(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	var got time.Time
	tests := []struct {
		name    string
		src     any
		want    time.Time
		wantErr bool
	}{
		{"ok, milliseconds", ToMillis(at), at, false},
		{"ok, NULL is the zero time", nil, time.Time{}, false},
		{"nok, text", "2026-03-01", time.Time{}, true},
		{"nok, float", 1.5, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = time.Unix(1, 0)
			err := Millis(&got).Scan(tt.src)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Scan(%v) error = %v, want error %v", tt.src, err, tt.wantErr)
			}
			if !tt.wantErr && !got.Equal(tt.want) {
				t.Errorf("Scan(%v) = %v, want %v", tt.src, got, tt.want)
			}
		})
	}
}

// The handlers and auth turn away what store.WellFormedID refuses without
// a query, so every ID NewID makes must pass it, and the shape must refuse
// what PostgreSQL cannot hold.
func TestNewIDIsWellFormed(t *testing.T) {
	for range 1000 {
		if id := NewID(); !store.WellFormedID(id) {
			t.Fatalf("NewID() = %q, which store.WellFormedID refuses", id)
		}
	}
	for _, id := range []string{"", "nope", "a\x00bcdefghijklmnopqrstu", "\xffbcdefghijklmnopqrstu", "abcdefghijklmnopqrstu=", "abcdefghijklmnopqrstuvw"} {
		if store.WellFormedID(id) {
			t.Errorf("store.WellFormedID(%q) = true", id)
		}
	}
}
