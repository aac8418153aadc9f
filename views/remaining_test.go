package views

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// remainingCase is one line of testdata/remaining.json, the table that
// Remaining here and remainingText in static/app.js (the browser test
// TestCountdownsReadAsHumanDurations) are both held to.
type remainingCase struct {
	Name string `json:"name"`
	MS   int64  `json:"ms"`
	Want string `json:"want"`
}

func TestRemaining(t *testing.T) {
	raw, err := os.ReadFile("testdata/remaining.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []remainingCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			if got := Remaining(time.Duration(tc.MS) * time.Millisecond); got != tc.Want {
				t.Errorf("Remaining(%dms) = %q, want %q", tc.MS, got, tc.Want)
			}
		})
	}
}
