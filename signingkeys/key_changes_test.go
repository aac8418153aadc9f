package signingkeys_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"tokenflow/signingkeys"
	"tokenflow/store"
	"tokenflow/tokens"
)

// observedServer is a started ES256 server whose key changes are heard.
func observedServer(t *testing.T) (*env, *signingkeys.Manager, *tokens.Manager, *changeLog) {
	t.Helper()
	e := newEnv(t)
	m, tm := e.started(tokens.AlgES256)
	heard := &changeLog{}
	m.SetObserver(heard)
	return e, m, tm, heard
}

// The instance that rotates or revokes follows its own change at once,
// without waiting for its next poll (Revoke: "here at once"): after
// Rotate the next token is signed with the promoted key, and a revoked
// key stops verifying on the spot. The observer hears each change when it
// is made, and never one that was refused: a revocation of an unknown kid
// must not stand in for a real one in the metrics.
func TestOwnChangesTakeEffectAtOnce(t *testing.T) {
	e, m, tm, heard := observedServer(t)
	ctx := context.Background()
	if err := m.Revoke(ctx, "no-such-kid"); err == nil || len(heard.made) != 0 {
		t.Fatalf("Revoke of an unknown kid: %v, heard %v; want an error and nothing heard", err, heard.made)
	}

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
	if want := ([]signingkeys.KeyChange{signingkeys.KeyRotatedCommand, signingkeys.KeyRevoked}); !slices.Equal(heard.made, want) {
		t.Errorf("heard %v, want %v", heard.made, want)
	}
}

// A store whose current key row is gone (deleted by hand, or a restore
// that lost it) while the next key is still there: the next poll must
// not trip over the missing key. It promotes the published next key, so
// verifiers that cached the JWKS already know the kid, publishes a new
// next key, and the server signs with it at once (not one poll later);
// tokens of the lost key are refused. Promoting a published key is a
// rotation, and the observer hears it as one.
func TestALostCurrentKeyPromotesTheNextOne(t *testing.T) {
	e, m, tm, heard := observedServer(t)
	ctx := context.Background()
	oldToken, lost := issue(t, tm)
	next := e.kidIn(store.KeyNext)
	if err := e.store.ChangeSigningKeys(ctx, func([]store.SigningKey) (store.SigningKeyChanges, error) {
		return store.SigningKeyChanges{Delete: []string{lost}}, nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := m.Refresh(ctx); err != nil {
		t.Fatalf("the poll after the current key was lost: %v", err)
	}
	if got := e.states(); got[next] != store.KeyCurrent || len(got) != 2 {
		t.Fatalf("states %v, want %s current and a new next key", got, next)
	}
	if _, kid := issue(t, tm); kid != next {
		t.Errorf("signing with %s, want the promoted %s", kid, next)
	}
	if _, err := tm.Verify(oldToken); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("a token of the lost key: %v, want refused", err)
	}
	if want := ([]signingkeys.KeyChange{signingkeys.KeyRotatedScheduled}); !slices.Equal(heard.made, want) {
		t.Errorf("heard %v, want %v", heard.made, want)
	}
}
