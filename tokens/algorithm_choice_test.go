package tokens_test

import (
	"bytes"
	"testing"

	"tokenflow/tokens"
)

// CheckAlg is what stands between a setting (JWT_ALG, a stored key row)
// and the key the server signs with: exactly the four algorithms this
// package pins keys to, spelled exactly as RFC 7518 spells them. "none",
// another hash size or another spelling must be refused, not mapped to
// something close.
func TestCheckAlgAcceptsOnlyTheFour(t *testing.T) {
	for _, alg := range []string{tokens.AlgES256, tokens.AlgEdDSA, tokens.AlgRS256, tokens.AlgHS256} {
		if err := tokens.CheckAlg(alg); err != nil {
			t.Errorf("CheckAlg(%q) = %v, want nil", alg, err)
		}
	}
	for _, alg := range []string{"", "none", "None", "HS384", "HS512", "ES384", "PS256", "es256", "hs256", "ES256 ", "Ed25519"} {
		if err := tokens.CheckAlg(alg); err == nil {
			t.Errorf("CheckAlg(%q) = nil, want a refusal", alg)
		}
	}
}

// An HS256 key is a shared secret: nothing of it is public. Every way a
// key is exported for publication (PKIX DER, JWK, the JWKS document) or
// for sealing (PKCS#8) must refuse it, so the secret can never end up in
// /.well-known/jwks.json or a key row by mistake.
func TestHS256SecretIsNeverExported(t *testing.T) {
	key, err := tokens.NewHS256Key(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if der, err := key.MarshalPublicKey(); err == nil || der != nil {
		t.Errorf("MarshalPublicKey of an HS256 key = %x, %v; want an error and nothing", der, err)
	}
	if der, err := key.MarshalPrivateKey(); err == nil || bytes.Contains(der, testSecret) {
		t.Errorf("MarshalPrivateKey of an HS256 key: %v; want an error and nothing of the secret", err)
	}
	if jwk, ok := key.JWK(); ok {
		t.Errorf("JWK of an HS256 key = %+v, want none", jwk)
	}
	set, err := tokens.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	if doc := set.Verification().JWKS(); len(doc.Keys) != 0 {
		t.Errorf("JWKS of an HS256 set = %+v, want no keys", doc)
	}
}
