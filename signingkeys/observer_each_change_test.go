package signingkeys_test

import (
	"context"
	"slices"
	"testing"

	"tokenflow/signingkeys"
	"tokenflow/tokens"
)

// The observer hears a change when it is made and never hears one that
// was refused: a revocation of an unknown kid is not a revocation, and
// must not stand in for a real one in the metrics.
func TestObserverHearsOnlyChangesMade(t *testing.T) {
	e := newEnv(t)
	m, tm := e.started(tokens.AlgES256)
	var heard changeLog
	m.SetObserver(&heard)
	ctx := context.Background()

	if err := m.Revoke(ctx, "no-such-kid"); err == nil {
		t.Fatal("Revoke of an unknown kid succeeded")
	}
	if len(heard) != 0 {
		t.Fatalf("after a refused revocation heard %v, want nothing", heard)
	}
	_, kid := issue(t, tm)
	if err := m.Revoke(ctx, kid); err != nil {
		t.Fatal(err)
	}
	if want := (changeLog{signingkeys.KeyRevoked}); !slices.Equal(heard, want) {
		t.Fatalf("after revoking the current key heard %v, want %v", heard, want)
	}
}
