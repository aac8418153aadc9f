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

// A store whose current key row is gone (deleted by hand, or a restore
// that lost it) while the next key is still there: the next poll must
// not trip over the missing key. It promotes the published next key, so
// verifiers that cached the JWKS already know the kid, publishes a new
// next key, and the server signs with it at once (not one poll later);
// tokens of the lost key are refused. Promoting a published key is a
// rotation, and the observer hears it as one.
func TestALostCurrentKeyPromotesTheNextOne(t *testing.T) {
	e := newEnv(t)
	server, serverTokens := e.started(tokens.AlgES256)
	ctx := context.Background()
	oldToken, lost := issue(t, serverTokens)
	var heard changeLog
	server.SetObserver(&heard)
	next := e.kidIn(store.KeyNext)
	if err := e.store.ChangeSigningKeys(ctx, func([]store.SigningKey) (store.SigningKeyChanges, error) {
		return store.SigningKeyChanges{Delete: []string{lost}}, nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := server.Refresh(ctx); err != nil {
		t.Fatalf("the poll after the current key was lost: %v", err)
	}
	if got := e.states(); got[next] != store.KeyCurrent || len(got) != 2 {
		t.Fatalf("states %v, want %s current and a new next key", got, next)
	}
	if _, kid := issue(t, serverTokens); kid != next {
		t.Errorf("signing with %s, want the promoted %s", kid, next)
	}
	if _, err := serverTokens.Verify(oldToken); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("a token of the lost key: %v, want refused", err)
	}
	if want := (changeLog{signingkeys.KeyRotatedScheduled}); !slices.Equal(heard, want) {
		t.Errorf("heard %v, want %v", heard, want)
	}
}
