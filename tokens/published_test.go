package tokens_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/httpx/jwkstest"
	"tokenflow/tokens"
)

func TestParseJWKS(t *testing.T) {
	key := jwkstest.NewKey(t)
	jwk := key.JWK()
	// skippedKeys is a document of n oct keys: each counts against
	// MaxJWKSKeys, none is kept.
	skippedKeys := func(n int) string {
		doc := `{"keys":[`
		for i := range n {
			if i > 0 {
				doc += ","
			}
			doc += fmt.Sprintf(`{"kty":"oct","k":"c2VjcmV0","kid":"h%d","alg":"HS256"}`, i)
		}
		return doc + "]}"
	}
	tests := []struct {
		name     string
		doc      string
		wantErr  bool
		wantKids int
	}{
		{"ok, exactly MaxJWKSKeys keys", skippedKeys(tokens.MaxJWKSKeys), false, 0},
		{"nok, one key over MaxJWKSKeys", skippedKeys(tokens.MaxJWKSKeys + 1), true, 0},
		{"ok, one ES256 key", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1","alg":"ES256","use":"sig"}]}`, jwk["x"], jwk["y"]), false, 1},
		{"ok, empty set", `{"keys":[]}`, false, 0},
		{"ok, oct key skipped (never an HMAC secret)", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}`, false, 0},
		{"ok, key without alg skipped (no guessing)", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1"}]}`, jwk["x"], jwk["y"]), false, 0},
		{"ok, encryption key skipped", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1","alg":"ES256","use":"enc"}]}`, jwk["x"], jwk["y"]), false, 0},
		{"nok, point not on the curve", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"k1","alg":"ES256"}]}`, jwk["x"], jwk["x"]), true, 0},
		{"nok, ES256 on an RSA key", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k1","alg":"ES256"}]}`, true, 0},
		{"nok, short RSA key", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k1","alg":"RS256"}]}`, true, 0},
		{"nok, duplicate kid", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%[1]q,"y":%[2]q,"kid":"k1","alg":"ES256"},{"kty":"EC","crv":"P-256","x":%[1]q,"y":%[2]q,"kid":"k1","alg":"ES256"}]}`, jwk["x"], jwk["y"]), true, 0},
		{"nok, no kid", fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,"alg":"ES256"}]}`, jwk["x"], jwk["y"]), true, 0},
		{"nok, no keys member", `{}`, true, 0},
		{"nok, not JSON", `<html>`, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := tokens.ParseJWKS([]byte(tt.doc))
			if tt.wantErr {
				if !errors.Is(err, tokens.ErrBadJWKS) {
					t.Fatalf("err = %v, want ErrBadJWKS", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(keys.Kids()); got != tt.wantKids {
				t.Fatalf("%d keys, want %d", got, tt.wantKids)
			}
		})
	}
}

// TestPublishedKeyVerifierPinsEachKey: EdDSA and RS256 keys from a JWKS
// verify their own tokens; an HS256 token naming an oct key's kid, signed
// with that key's bytes, does not (the set never holds it), nor does a
// token signed with one key's algorithm under another key's kid.
func TestPublishedKeyVerifierPinsEachKey(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := base64.RawURLEncoding.EncodeToString
	doc := fmt.Sprintf(`{"keys":[
		{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"ed","alg":"EdDSA","use":"sig"},
		{"kty":"RSA","n":%q,"e":%q,"kid":"rsa","alg":"RS256","use":"sig"},
		{"kty":"oct","k":%q,"kid":"hmac","alg":"HS256"}]}`,
		b(edPub), b(rsaPriv.N.Bytes()), b(big.NewInt(int64(rsaPriv.E)).Bytes()), b([]byte("0123456789abcdef0123456789abcdef")))
	keys, err := tokens.ParseJWKS([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokens.NewPublishedKeyVerifier(func() *tokens.VerificationKeys { return keys }, tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(method jwt.SigningMethod, key any, kid string) string {
		tok := jwt.NewWithClaims(method, jwkstest.Claims("u1", now))
		tok.Header["kid"], tok.Header["typ"] = kid, "at+jwt"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"ok, EdDSA", sign(jwt.SigningMethodEdDSA, edPriv, "ed"), true},
		{"ok, RS256", sign(jwt.SigningMethodRS256, rsaPriv, "rsa"), true},
		{"nok, HS256 with the oct key", sign(jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), "hmac"), false},
		{"nok, HS256 with the RSA modulus as secret", sign(jwt.SigningMethodHS256, rsaPriv.N.Bytes(), "rsa"), false},
		{"nok, RS256 under the EdDSA kid", sign(jwt.SigningMethodRS256, rsaPriv, "ed"), false},
		{"nok, PS256 (RSA, another algorithm) under the RSA kid", sign(jwt.SigningMethodPS256, rsaPriv, "rsa"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.token)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, tokens.ErrInvalidToken) {
				t.Fatalf("err = %v does not wrap ErrInvalidToken", err)
			}
		})
	}
}

// An RSA key's public exponent must be odd and within [3, 2^31-1]: the
// bounds themselves are accepted, one past either is refused.
func TestParseJWKSRSAExponentBounds(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	for _, tc := range []struct {
		name     string
		exponent int64
		wantErr  bool
	}{
		{"ok, 3", 3, false},
		{"ok, 65537", 65537, false},
		{"ok, 2^31-1", 1<<31 - 1, false},
		{"nok, 1", 1, true},
		{"nok, even", 65536, true},
		{"nok, 2^31+1", 1<<31 + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base64.RawURLEncoding.EncodeToString(new(big.Int).SetInt64(tc.exponent).Bytes())
			doc := fmt.Sprintf(`{"keys":[{"kty":"RSA","n":%q,"e":%q,"kid":"r1","alg":"RS256","use":"sig"}]}`, n, e)
			_, err := tokens.ParseJWKS([]byte(doc))
			if tc.wantErr != (err != nil) {
				t.Fatalf("ParseJWKS with e=%d: %v, want error %v", tc.exponent, err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, tokens.ErrBadJWKS) {
				t.Errorf("error %v does not wrap ErrBadJWKS", err)
			}
		})
	}
}
