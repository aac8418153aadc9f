package tokens_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// The constructors refuse what would make an issuer or verifier unsafe or
// useless, and name what is wrong.
func TestConstructorsRefuseIncompleteConfig(t *testing.T) {
	keys, err := tokens.NewHS256KeySet([]byte("constructor-test-secret-32-bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	okIssuer := tokens.IssuerConfig{Issuer: "tf", Audience: "tf", TTL: time.Minute}
	okVerifier := tokens.VerifierConfig{Issuer: "tf", Audience: "tf"}
	if _, err := tokens.NewIssuer(keys, okIssuer); err != nil {
		t.Fatalf("a complete issuer config: %v", err)
	}
	if _, err := tokens.NewVerifier(keys.Verification(), okVerifier); err != nil {
		t.Fatalf("a complete verifier config: %v", err)
	}
	issuerCases := map[string]func(*tokens.IssuerConfig) (*tokens.KeySet, string){
		"nok, no key set":   func(c *tokens.IssuerConfig) (*tokens.KeySet, string) { return nil, "key set" },
		"nok, no issuer":    func(c *tokens.IssuerConfig) (*tokens.KeySet, string) { c.Issuer = ""; return keys, "issuer" },
		"nok, no audience":  func(c *tokens.IssuerConfig) (*tokens.KeySet, string) { c.Audience = ""; return keys, "audience" },
		"nok, zero TTL":     func(c *tokens.IssuerConfig) (*tokens.KeySet, string) { c.TTL = 0; return keys, "TTL" },
		"nok, negative TTL": func(c *tokens.IssuerConfig) (*tokens.KeySet, string) { c.TTL = -time.Second; return keys, "TTL" },
	}
	for name, edit := range issuerCases {
		t.Run("issuer "+name, func(t *testing.T) {
			cfg := okIssuer
			ks, want := edit(&cfg)
			if _, err := tokens.NewIssuer(ks, cfg); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("NewIssuer error = %v, want one naming %q", err, want)
			}
		})
	}
	verifierCases := map[string]func(*tokens.VerifierConfig) (*tokens.VerificationKeys, string){
		"nok, no keys": func(c *tokens.VerifierConfig) (*tokens.VerificationKeys, string) { return nil, "keys" },
		"nok, no issuer": func(c *tokens.VerifierConfig) (*tokens.VerificationKeys, string) {
			c.Issuer = ""
			return keys.Verification(), "issuer"
		},
		"nok, no audience": func(c *tokens.VerifierConfig) (*tokens.VerificationKeys, string) {
			c.Audience = ""
			return keys.Verification(), "audience"
		},
		"nok, leeway above 5s": func(c *tokens.VerifierConfig) (*tokens.VerificationKeys, string) {
			c.Leeway = tokens.MaxLeeway + time.Millisecond
			return keys.Verification(), "leeway"
		},
		"nok, negative leeway": func(c *tokens.VerifierConfig) (*tokens.VerificationKeys, string) {
			c.Leeway = -time.Millisecond
			return keys.Verification(), "leeway"
		},
	}
	for name, edit := range verifierCases {
		t.Run("verifier "+name, func(t *testing.T) {
			cfg := okVerifier
			vk, want := edit(&cfg)
			if _, err := tokens.NewVerifier(vk, cfg); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("NewVerifier error = %v, want one naming %q", err, want)
			}
		})
	}
	t.Run("ok, leeway exactly 5s", func(t *testing.T) {
		cfg := okVerifier
		cfg.Leeway = tokens.MaxLeeway
		if _, err := tokens.NewVerifier(keys.Verification(), cfg); err != nil {
			t.Error(err)
		}
	})
}

func TestCheckSecretLengthBoundaries(t *testing.T) {
	for _, tt := range []struct {
		n, minimum int
		ok         bool
	}{
		{0, 0, false},
		{tokens.MinSecretLength - 1, 0, false},
		{tokens.MinSecretLength, 0, true},
		{tokens.MinProductionSecretLength - 1, tokens.MinProductionSecretLength, false},
		{tokens.MinProductionSecretLength, tokens.MinProductionSecretLength, true},
	} {
		err := tokens.CheckSecretLength([]byte(strings.Repeat("k", tt.n)), tt.minimum)
		if (err == nil) != tt.ok {
			t.Errorf("%d bytes, minimum %d: %v, want ok=%v", tt.n, tt.minimum, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "kkkk") {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
}

// MaxTokenLength is a limit, not an off-by-one: a token of exactly that
// length is looked at (and refused for what it holds), one byte more is
// refused as malformed before any decoding; the inspector keeps the same
// bound.
func TestMaxTokenLengthBoundary(t *testing.T) {
	m := managerAt(t, 0)
	good, _, err := m.Issue("user-1", "alice", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	// Pad the signature segment: still three segments, still base64url.
	pad := func(n int) string { return good + strings.Repeat("A", n-len(good)) }
	atLimit, overLimit := pad(tokens.MaxTokenLength), pad(tokens.MaxTokenLength+1)

	if _, err := m.Verify(atLimit); err == nil || strings.Contains(err.Error(), "limit") {
		t.Errorf("a token of exactly MaxTokenLength: %v, want it looked at (and refused), not refused for its length", err)
	}
	if _, err := m.Verify(overLimit); !errors.Is(err, jwt.ErrTokenMalformed) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a token one byte over MaxTokenLength: %v, want malformed", err)
	}
	if _, err := tokens.Decode(atLimit); errors.Is(err, tokens.ErrMalformedToken) && strings.Contains(err.Error(), "longer") {
		t.Errorf("Decode refused a token of exactly MaxTokenLength for its length: %v", err)
	}
	if _, err := tokens.Decode(overLimit); !errors.Is(err, tokens.ErrMalformedToken) {
		t.Errorf("Decode of a token over MaxTokenLength: %v, want ErrMalformedToken", err)
	}
}

// The development key file: created once, 0600 in a 0700 folder, read back
// unchanged by every later start, and refused (never silently replaced)
// when it holds something else.
func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "jwt-secret")
	first, err := tokens.LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < 32 {
		t.Errorf("generated key is %d bytes, want at least 32", len(first))
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, info.Mode().Perm(), want)
		}
	}
	again, err := tokens.LoadOrCreateSecret(path)
	if err != nil || string(again) != string(first) {
		t.Fatalf("second load: %v (same key: %v)", err, string(again) == string(first))
	}
	for name, content := range map[string]string{
		"not base64":      "not base64 at all!\n",
		"too short a key": "c2hvcnQ=\n",
		"empty":           "",
	} {
		t.Run("nok, "+name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "jwt-secret")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := tokens.LoadOrCreateSecret(p); err == nil || !strings.Contains(err.Error(), "delete it") {
				t.Errorf("LoadOrCreateSecret = %v, want a refusal saying to delete the file", err)
			}
			if b, _ := os.ReadFile(p); string(b) != content {
				t.Error("the file was changed")
			}
		})
	}
}
