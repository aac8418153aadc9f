package tokens_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

var asymmetricAlgs = []string{tokens.AlgES256, tokens.AlgEdDSA, tokens.AlgRS256}

// asymmetricSetup is one algorithm's published key, its ring-backed
// manager, and a second key of the same algorithm that was never published.
type asymmetricSetup struct {
	alg         string
	key         tokens.SigningKey
	unpublished tokens.SigningKey
	ring        *tokens.Keyring
	manager     *tokens.Manager
}

func newAsymmetric(t *testing.T, alg string) asymmetricSetup {
	t.Helper()
	key, err := tokens.GenerateKey(alg)
	fatalIf(t, err)
	other, err := tokens.GenerateKey(alg)
	fatalIf(t, err)
	set, err := tokens.NewKeySet(key)
	fatalIf(t, err)
	ring, err := tokens.NewKeyring(set)
	fatalIf(t, err)
	cfg := testConfig(testNow)
	cfg.Secret, cfg.Keys = nil, ring
	m, err := tokens.NewManager(cfg)
	fatalIf(t, err)
	return asymmetricSetup{alg: alg, key: key, unpublished: other, ring: ring, manager: m}
}

// fatalIf stops the test at a setup step's error: without that step the
// test cannot run at all.
func fatalIf(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// goodClaims are claims the manager would accept, for forged tokens.
func goodClaims() tokens.Claims {
	return tokens.Claims{
		Username:  "alice",
		SessionID: "sid-1",
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "user-1",
			Audience:  jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute)),
			IssuedAt:  jwt.NewNumericDate(testNow),
			ID:        "jti-1",
		},
	}
}

func TestAsymmetricRoundTrip(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newAsymmetric(t, alg)
			token, _, err := s.manager.Issue("user-1", "alice", "sid-1")
			if err != nil {
				t.Fatal(err)
			}
			parts, err := tokens.Decode(token)
			if err != nil {
				t.Fatal(err)
			}
			if parts.Header["alg"] != alg || parts.Header["kid"] != s.key.Kid() || parts.Header["typ"] != tokens.AccessTokenType {
				t.Fatalf("header = %v, want alg %s, kid %s, typ at+jwt", parts.Header, alg, s.key.Kid())
			}
			claims, err := s.manager.Verify(token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if claims.Subject != "user-1" || claims.SessionID != "sid-1" {
				t.Fatalf("claims = %+v", claims)
			}
		})
	}
}

// The kid is the RFC 7638 thumbprint, recomputed here from the published
// JWK through a generic canonical form (encoding/json sorts map keys and
// writes no whitespace), not through the code under test.
func TestKidIsTheJWKThumbprint(t *testing.T) {
	required := map[string][]string{"EC": {"crv", "kty", "x", "y"}, "OKP": {"crv", "kty", "x"}, "RSA": {"e", "kty", "n"}}
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newAsymmetric(t, alg)
			doc, err := json.Marshal(s.ring.Load().Verification().JWKS())
			if err != nil {
				t.Fatal(err)
			}
			var set struct{ Keys []map[string]string }
			if err := json.Unmarshal(doc, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("JWKS %s: %v", doc, err)
			}
			jwk := set.Keys[0]
			members := map[string]string{}
			for _, name := range required[jwk["kty"]] {
				members[name] = jwk[name]
			}
			canonical, _ := json.Marshal(members)
			sum := sha256.Sum256(canonical)
			if want := base64.RawURLEncoding.EncodeToString(sum[:]); jwk["kid"] != want || s.key.Kid() != want {
				t.Fatalf("kid = %q (JWK %q), want thumbprint %q of %s", s.key.Kid(), jwk["kid"], want, canonical)
			}
		})
	}
}

// Every way of getting a token past an asymmetric verifier without the
// private key, per algorithm.
func TestAsymmetricAttacks(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newAsymmetric(t, alg)
			der, err := s.key.MarshalPublicKey()
			if err != nil {
				t.Fatal(err)
			}
			pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			jwk, _ := s.key.JWK()

			sign := func(method jwt.SigningMethod, header map[string]any, key any) string {
				t.Helper()
				tok := jwt.NewWithClaims(method, goodClaims())
				for name, value := range header {
					if value == nil {
						delete(tok.Header, name)
					} else {
						tok.Header[name] = value
					}
				}
				signed, err := tok.SignedString(key)
				if err != nil {
					t.Fatal(err)
				}
				return signed
			}
			ours := map[string]any{"kid": s.key.Kid(), "typ": tokens.AccessTokenType}
			cases := []struct {
				name  string
				token string
			}{
				{"nok, HS256 with the public key PEM as secret", sign(jwt.SigningMethodHS256, ours, pemBytes)},
				{"nok, HS256 with the public key DER as secret", sign(jwt.SigningMethodHS256, ours, der)},
				{"nok, HS256 with the JWK x as secret", sign(jwt.SigningMethodHS256, ours, []byte(jwk.X+jwk.N))},
				{"nok, alg none", sign(jwt.SigningMethodNone, ours, jwt.UnsafeAllowNoneSignatureType)},
				{"nok, signed by a key never published, its own kid", sign(s.unpublished.Method(), map[string]any{"kid": s.unpublished.Kid(), "typ": tokens.AccessTokenType}, s.unpublished.Signer())},
				{"nok, signed by a key never published, our kid", sign(s.unpublished.Method(), ours, s.unpublished.Signer())},
				{"nok, no kid", sign(s.key.Method(), map[string]any{"kid": nil, "typ": tokens.AccessTokenType}, s.key.Signer())},
				{"nok, missing typ", sign(s.key.Method(), map[string]any{"kid": s.key.Kid(), "typ": nil}, s.key.Signer())},
				{"nok, typ JWT", sign(s.key.Method(), map[string]any{"kid": s.key.Kid(), "typ": "JWT"}, s.key.Signer())},
				{"nok, typ in another spelling", sign(s.key.Method(), map[string]any{"kid": s.key.Kid(), "typ": "AT+JWT"}, s.key.Signer())},
			}
			// The genuine key with the same header verifies, so each refusal
			// above is the attack's doing.
			if _, err := s.manager.Verify(sign(s.key.Method(), ours, s.key.Signer())); err != nil {
				t.Fatalf("control token refused: %v", err)
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					if _, err := s.manager.Verify(tc.token); !errors.Is(err, tokens.ErrInvalidToken) {
						t.Fatalf("Verify = %v, want ErrInvalidToken", err)
					}
				})
			}
		})
	}
}

// A token of one published key carrying the kid of another published key
// (of another algorithm too) is refused: the kid's key decides.
func TestKidMismatchIsRefused(t *testing.T) {
	es, err := tokens.GenerateKey(tokens.AlgES256)
	fatalIf(t, err)
	es2, err := tokens.GenerateKey(tokens.AlgES256)
	fatalIf(t, err)
	ed, err := tokens.GenerateKey(tokens.AlgEdDSA)
	fatalIf(t, err)
	set, err := tokens.NewKeySet(es, es2.VerificationKey, ed.VerificationKey)
	fatalIf(t, err)
	v, err := tokens.NewVerifier(set.Verification(), tokens.VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return testNow }})
	fatalIf(t, err)
	for _, tc := range []struct {
		name   string
		signer tokens.SigningKey
		kid    string
	}{
		{"nok, ES256 key, other ES256 kid", es, es2.Kid()},
		{"nok, EdDSA key, ES256 kid", ed, es.Kid()},
		{"nok, ES256 key, EdDSA kid", es, ed.Kid()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := jwt.NewWithClaims(tc.signer.Method(), goodClaims())
			tok.Header["kid"], tok.Header["typ"] = tc.kid, tokens.AccessTokenType
			signed, err := tok.SignedString(tc.signer.Signer())
			fatalIf(t, err)
			if _, err := v.Verify(signed); !errors.Is(err, tokens.ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}

// A revoked key leaves the ring: its tokens stop verifying at once, with
// no new Verifier.
func TestKeyringReplaceStopsTheOldKey(t *testing.T) {
	s := newAsymmetric(t, tokens.AlgES256)
	token, _, err := s.manager.Issue("user-1", "alice", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	set, err := tokens.NewKeySet(s.unpublished)
	if err != nil {
		t.Fatal(err)
	}
	s.ring.Replace(set)
	if _, err := s.manager.Verify(token); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("Verify after the key left = %v, want ErrInvalidToken", err)
	}
	next, _, err := s.manager.Issue("user-1", "alice", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	if parts, _ := tokens.Decode(next); parts.Header["kid"] != s.unpublished.Kid() {
		t.Fatalf("new token kid = %v, want the new key's", parts.Header["kid"])
	}
}

// The JWKS carries public members only, whatever the algorithm.
func TestJWKSHasNoPrivateMembers(t *testing.T) {
	var keys []tokens.VerificationKey
	var current tokens.SigningKey
	for i, alg := range asymmetricAlgs {
		k, err := tokens.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			current = k
		} else {
			keys = append(keys, k.VerificationKey)
		}
	}
	hs, err := tokens.NewHS256Key(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	set, err := tokens.NewKeySet(current, append(keys, hs.VerificationKey)...)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(set.Verification().JWKS())
	if err != nil {
		t.Fatal(err)
	}
	assertPublicJWKS(t, doc, 3)
	if strings.Contains(string(doc), base64.RawURLEncoding.EncodeToString(testSecret)) || strings.Contains(string(doc), hs.Kid()) {
		t.Fatal("the JWKS mentions the HS256 key")
	}
}

// assertPublicJWKS decodes every key of a JWKS document and fails on any
// member outside the public set.
func assertPublicJWKS(t *testing.T, doc []byte, wantKeys int) {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS %s: %v", doc, err)
	}
	if len(set.Keys) != wantKeys {
		t.Fatalf("JWKS has %d keys, want %d: %s", len(set.Keys), wantKeys, doc)
	}
	public := map[string]bool{"kty": true, "crv": true, "x": true, "y": true, "n": true, "e": true, "kid": true, "alg": true, "use": true}
	for _, k := range set.Keys {
		for name := range k {
			if !public[name] {
				t.Errorf("JWKS key %v has member %q", k["kid"], name)
			}
		}
		if k["use"] != "sig" {
			t.Errorf("JWKS key %v: use = %v", k["kid"], k["use"])
		}
	}
}

func TestParsePrivateKeyPinsTheAlgorithm(t *testing.T) {
	es, err := tokens.GenerateKey(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := es.MarshalPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	back, err := tokens.ParsePrivateKey(tokens.AlgES256, der)
	if err != nil || back.Kid() != es.Kid() {
		t.Fatalf("round trip: kid %q, err %v", back.Kid(), err)
	}
	for _, alg := range []string{tokens.AlgEdDSA, tokens.AlgRS256, tokens.AlgHS256} {
		if _, err := tokens.ParsePrivateKey(alg, der); err == nil {
			t.Errorf("an ES256 key was accepted as %s", alg)
		}
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
		t.Fatal(err)
	}
}

// IsAsymmetric decides whether a verifier wants a key set of public keys or
// a secret: each supported asymmetric algorithm is one, HS256 and anything
// unknown are not.
func TestIsAsymmetric(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		if !tokens.IsAsymmetric(alg) {
			t.Errorf("IsAsymmetric(%q) = false", alg)
		}
	}
	for _, alg := range []string{tokens.AlgHS256, "none", "", "es256", "RS384", "PS256"} {
		if tokens.IsAsymmetric(alg) {
			t.Errorf("IsAsymmetric(%q) = true", alg)
		}
	}
}
