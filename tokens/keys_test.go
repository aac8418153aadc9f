package tokens_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

func TestIssuedTokensNameTheirKey(t *testing.T) {
	f := newFixture(t)
	parts, err := tokens.Decode(f.token)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parts.Header["kid"].(string)
	if kid != tokens.HS256Kid(testSecret) {
		t.Fatalf("kid = %q, want %q", kid, tokens.HS256Kid(testSecret))
	}
	// The kid is public: it must not be, or contain, the key.
	raw, err := base64.RawURLEncoding.DecodeString(kid)
	if err != nil {
		t.Fatalf("kid is not base64url: %v", err)
	}
	if strings.Contains(kid, string(testSecret[:8])) || bytes.Contains(testSecret, raw) || len(raw) >= len(testSecret) {
		t.Errorf("kid %q reveals the key", kid)
	}
	if tokens.HS256Kid(attackerSecret) == kid {
		t.Error("two keys share a kid")
	}
}

// A token without kid is accepted only because a one-key HS256 set is
// unambiguous. Once a set holds two keys, it must name one.
func TestMissingKidNeedsOneKeySet(t *testing.T) {
	current, err := tokens.NewHS256Key(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	previous, err := tokens.NewHS256Key(attackerSecret)
	if err != nil {
		t.Fatal(err)
	}
	set, err := tokens.NewKeySet(current, previous.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokens.NewVerifier(set.Verification(), tokens.VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	noKid := sign(t, jwt.SigningMethodHS256, testSecret, validClaims(), nil)
	if _, err := v.Verify(noKid); !errors.Is(err, jwt.ErrTokenUnverifiable) {
		t.Errorf("no kid, two keys: %v, want jwt.ErrTokenUnverifiable", err)
	}
	for _, secret := range [][]byte{testSecret, attackerSecret} {
		tok := sign(t, jwt.SigningMethodHS256, secret, validClaims(), map[string]any{"kid": tokens.HS256Kid(secret)})
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("kid %s: %v", tokens.HS256Kid(secret), err)
		}
	}
	// A kid names one key: the other key's signature under it fails.
	crossed := sign(t, jwt.SigningMethodHS256, attackerSecret, validClaims(), map[string]any{"kid": tokens.HS256Kid(testSecret)})
	if _, err := v.Verify(crossed); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("crossed kid: %v, want jwt.ErrTokenSignatureInvalid", err)
	}
	if _, err := tokens.NewKeySet(current, current.VerificationKey); err == nil {
		t.Error("NewKeySet accepted a kid twice")
	}
}

func TestCheckSecretLength(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secret  []byte
		minimum int
		wantErr bool
	}{
		{"ok, 16 bytes in development", testSecret[:16], tokens.MinSecretLength, false},
		{"ok, 32 bytes in production", testSecret, tokens.MinProductionSecretLength, false},
		{"nok, empty", nil, tokens.MinSecretLength, true},
		{"nok, 15 bytes", testSecret[:15], 0, true},
		{"nok, 31 bytes in production", testSecret[:31], tokens.MinProductionSecretLength, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tokens.CheckSecretLength(tc.secret, tc.minimum)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckSecretLength = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), string(tc.secret)) && len(tc.secret) > 0 {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}
