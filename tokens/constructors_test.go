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
	// issuer and verifier build one from okIssuer or okVerifier after edit.
	issuer := func(ks *tokens.KeySet, edit func(*tokens.IssuerConfig)) error {
		cfg := okIssuer
		edit(&cfg)
		_, err := tokens.NewIssuer(ks, cfg)
		return err
	}
	verifier := func(vk *tokens.VerificationKeys, edit func(*tokens.VerifierConfig)) error {
		cfg := okVerifier
		edit(&cfg)
		_, err := tokens.NewVerifier(vk, cfg)
		return err
	}
	// want is what the error must name; "" means the config is accepted.
	for name, tt := range map[string]struct {
		build func() error
		want  string
	}{
		"issuer ok, complete":       {func() error { return issuer(keys, func(*tokens.IssuerConfig) {}) }, ""},
		"issuer nok, no key set":    {func() error { return issuer(nil, func(*tokens.IssuerConfig) {}) }, "key set"},
		"issuer nok, no issuer":     {func() error { return issuer(keys, func(c *tokens.IssuerConfig) { c.Issuer = "" }) }, "issuer"},
		"issuer nok, no audience":   {func() error { return issuer(keys, func(c *tokens.IssuerConfig) { c.Audience = "" }) }, "audience"},
		"issuer nok, zero TTL":      {func() error { return issuer(keys, func(c *tokens.IssuerConfig) { c.TTL = 0 }) }, "TTL"},
		"issuer nok, negative TTL":  {func() error { return issuer(keys, func(c *tokens.IssuerConfig) { c.TTL = -time.Second }) }, "TTL"},
		"verifier ok, complete":     {func() error { return verifier(keys.Verification(), func(*tokens.VerifierConfig) {}) }, ""},
		"verifier nok, no keys":     {func() error { return verifier(nil, func(*tokens.VerifierConfig) {}) }, "keys"},
		"verifier nok, no issuer":   {func() error { return verifier(keys.Verification(), func(c *tokens.VerifierConfig) { c.Issuer = "" }) }, "issuer"},
		"verifier nok, no audience": {func() error { return verifier(keys.Verification(), func(c *tokens.VerifierConfig) { c.Audience = "" }) }, "audience"},
		"verifier nok, leeway above 5s": {func() error {
			return verifier(keys.Verification(), func(c *tokens.VerifierConfig) { c.Leeway = tokens.MaxLeeway + time.Millisecond })
		}, "leeway"},
		"verifier nok, negative leeway": {func() error {
			return verifier(keys.Verification(), func(c *tokens.VerifierConfig) { c.Leeway = -time.Millisecond })
		}, "leeway"},
		"verifier ok, leeway exactly 5s": {func() error {
			return verifier(keys.Verification(), func(c *tokens.VerifierConfig) { c.Leeway = tokens.MaxLeeway })
		}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := tt.build()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want one naming %q", err, tt.want)
			}
		})
	}
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
