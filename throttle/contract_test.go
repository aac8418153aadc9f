package throttle_test

import (
	"testing"

	"tokenflow/throttle"
	"tokenflow/throttle/throttletest"
)

// Memory passes the contract every store passes; its "two stores" are one
// (one process shares its memory).
func TestMemoryContract(t *testing.T) {
	throttletest.Run(t, func(t *testing.T, l throttle.Limits) (throttle.Store, throttle.Store) {
		m := throttle.NewMemory(l, nil)
		return m, m
	})
}
