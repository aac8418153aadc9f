package signingkeys_test

import (
	"context"
	"errors"
	"testing"

	"tokenflow/store"
	"tokenflow/tokens"
)

// The instance that rotates or revokes follows its own change at once,
// without waiting for its next poll (Revoke: "here at once"): a revoked
// key stops verifying on the spot, and after Rotate the next token is
// signed with the promoted key.
func TestOwnChangesTakeEffectAtOnce(t *testing.T) {
	e := newEnv(t)
	m, tm := e.started(tokens.AlgES256)
	ctx := context.Background()

	next := e.kidIn(store.KeyNext)
	if err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	token, kid := issue(t, tm)
	if kid != next {
		t.Fatalf("right after Rotate signs with %s, want the promoted %s", kid, next)
	}
	if err := m.Revoke(ctx, kid); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Verify(token); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("right after Revoke a token of the revoked key: %v, want refused", err)
	}
	if _, again := issue(t, tm); again == kid {
		t.Fatal("still signing with the revoked key")
	}
}
