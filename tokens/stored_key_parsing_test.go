package tokens_test

import (
	"testing"

	"tokenflow/tokens"
)

// Keys come back from the store as DER (signingkeys rows): a row that is
// not a key, is cut short, or holds another algorithm's key must be
// refused with an error, never turned into a key that verifies.
func TestStoredKeysThatAreNotKeysAreRefused(t *testing.T) {
	es, err := tokens.GenerateKey(tokens.AlgES256)
	fatalIf(t, err)
	pub, err := es.MarshalPublicKey()
	fatalIf(t, err)
	priv, err := es.MarshalPrivateKey()
	fatalIf(t, err)
	if got, err := tokens.ParsePublicKey(tokens.AlgES256, pub); err != nil || got.Kid() != es.Kid() {
		t.Fatalf("the key's own DER: kid %q, %v; want %q", got.Kid(), err, es.Kid())
	}
	for name, der := range map[string][]byte{
		"empty":         nil,
		"not DER":       []byte("-----BEGIN PUBLIC KEY-----"),
		"cut short":     pub[:len(pub)-1],
		"a private key": priv,
	} {
		if got, err := tokens.ParsePublicKey(tokens.AlgES256, der); err == nil {
			t.Errorf("ParsePublicKey(%s) = kid %q, want an error", name, got.Kid())
		}
	}
	for _, alg := range []string{tokens.AlgEdDSA, tokens.AlgRS256, tokens.AlgHS256, "none"} {
		if _, err := tokens.ParsePublicKey(alg, pub); err == nil {
			t.Errorf("an ES256 public key parsed as %s", alg)
		}
		if _, err := tokens.ParsePrivateKey(alg, priv); err == nil {
			t.Errorf("an ES256 private key parsed as %s", alg)
		}
	}
	if _, err := tokens.ParsePrivateKey(tokens.AlgES256, pub); err == nil {
		t.Error("a public key parsed as a private one")
	}
}
