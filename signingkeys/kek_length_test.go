package signingkeys_test

import (
	"context"
	"strings"
	"testing"

	"tokenflow/signingkeys"
	"tokenflow/tokens"
)

// MinKeyEncryptionKeyLength is the least KEY_ENCRYPTION_KEY that works,
// not the least that fails: a key of exactly that length is accepted and
// seals the first keys (a second instance with it opens them), one
// character less is refused, and the refusal names lengths, never the key.
func TestKeyEncryptionKeyOfTheMinimumLength(t *testing.T) {
	atMinimum := strings.Repeat("k", signingkeys.MinKeyEncryptionKeyLength)
	if err := signingkeys.CheckKeyEncryptionKey(atMinimum); err != nil {
		t.Errorf("CheckKeyEncryptionKey, %d characters: %v, want it accepted", len(atMinimum), err)
	}
	e := newEnv(t)
	for range 2 {
		if err := e.instance(tokens.AlgES256, atMinimum).Refresh(context.Background()); err != nil {
			t.Fatalf("an instance with a key of exactly %d characters: %v", len(atMinimum), err)
		}
	}

	short := atMinimum[1:]
	err := signingkeys.CheckKeyEncryptionKey(short)
	if err == nil {
		t.Fatalf("a key of %d characters was accepted", len(short))
	}
	if strings.Contains(err.Error(), short) {
		t.Errorf("the refusal repeats the key: %v", err)
	}
	if _, err := signingkeys.New(e.store, signingkeys.Config{
		Alg: tokens.AlgES256, KeyEncryptionKey: short, Rotation: rotation, PublishAhead: publishAhead, KeepPrevious: keepPrevious,
	}); err == nil {
		t.Errorf("New accepted a key of %d characters", len(short))
	}
}
