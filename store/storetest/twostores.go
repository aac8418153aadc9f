package storetest

import (
	"testing"
	"time"

	"tokenflow/store"
)

// NewStorePair returns two Store values on one fresh database (two pools,
// or two handles on one file), as two instances of the app would have,
// both with the clock now and closed when t ends.
type NewStorePair func(t *testing.T, now func() time.Time) (store.Store, store.Store)

// RunTwoStores runs the cases that need two instances: what serialises
// rotations must be the database, not anything one Store value holds. They
// are the one-store cases InTxSerializesOneToken and
// InTxSerializesOneSession with their transactions spread over both.
func RunTwoStores(t *testing.T, newPair NewStorePair) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, stores ...store.Store)
	}{
		{"TwoStoresRotateOneTokenOnce", rotateOneTokenOnce},
		{"TwoStoresSerializeOneSession", serializeOneSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t, func() time.Time { return T0 })
			tc.run(t, a, b)
		})
	}
}
