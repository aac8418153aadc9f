package sqltables

import (
	"testing"
	"time"
)

func TestDollar(t *testing.T) {
	tests := []struct{ in, want string }{
		{`UPDATE t SET a = ? WHERE id = ?`, `UPDATE t SET a = $1 WHERE id = $2`},
		{`SELECT 1`, `SELECT 1`},
		{"VALUES (?, ?,\n\t?)", "VALUES ($1, $2,\n\t$3)"},
	}
	for _, tt := range tests {
		if got := Dollar(tt.in); got != tt.want {
			t.Errorf("Dollar(%q) = %q, want %q", tt.in, got, tt.want)
		}
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
