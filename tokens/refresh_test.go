package tokens_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"tokenflow/tokens"
)

func TestNewRefreshToken(t *testing.T) {
	const n = 1000
	seen := make(map[string]bool, n)
	for range n {
		token, hash, err := tokens.NewRefreshToken()
		if err != nil {
			t.Fatalf("NewRefreshToken: %v", err)
		}
		if len(token) != 43 {
			t.Fatalf("token %q has length %d, want 43", token, len(token))
		}
		if seen[token] {
			t.Fatalf("token %q returned twice", token)
		}
		seen[token] = true
		if b, err := hex.DecodeString(hash); err != nil || len(hash) != 64 || len(b) != 32 || hash != strings.ToLower(hash) {
			t.Fatalf("hash %q is not 64 lower-case hex characters", hash)
		}
		again, err := tokens.HashRefreshToken(token)
		if err != nil {
			t.Fatalf("HashRefreshToken(new token): %v", err)
		}
		if again != hash {
			t.Fatalf("HashRefreshToken = %q, NewRefreshToken said %q", again, hash)
		}
	}
}

func TestHashRefreshToken(t *testing.T) {
	valid, _, err := tokens.NewRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		want  string // hex SHA-256; empty when the token must be refused
	}{
		// 43 'A's encode 32 zero bytes; the hash is of the token text:
		// printf %s AAA…A | sha256sum.
		{"ok, all zero bytes", strings.Repeat("A", 43), "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"},
		{"ok, url-safe characters", strings.Repeat("-_", 21) + "w", ""},
		{"nok, empty", "", ""},
		{"nok, one short", valid[:42], ""},
		{"nok, one long", valid + "A", ""},
		{"nok, padded", valid[:42] + "=", ""},
		{"nok, padded 44", valid + "=", ""},
		{"nok, standard alphabet +", "+" + valid[1:], ""},
		{"nok, standard alphabet /", "/" + valid[1:], ""},
		{"nok, space", " " + valid[1:], ""},
		{"nok, newline", valid[:42] + "\n", ""},
		{"nok, non-ASCII", "é" + valid[2:], ""},
		{"nok, non-zero trailing bits", strings.Repeat("A", 42) + "B", ""},
		{"nok, hex hash instead of token", strings.Repeat("ab", 32), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tokens.HashRefreshToken(tc.token)
			if strings.HasPrefix(tc.name, "nok") {
				if !errors.Is(err, tokens.ErrMalformedRefreshToken) {
					t.Fatalf("HashRefreshToken(%q) = %q, %v; want ErrMalformedRefreshToken", tc.token, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("HashRefreshToken(%q): %v", tc.token, err)
			}
			if len(got) != 64 || (tc.want != "" && got != tc.want) {
				t.Errorf("HashRefreshToken(%q) = %q, want %q", tc.token, got, tc.want)
			}
		})
	}
}

func TestRandomID(t *testing.T) {
	a, b := tokens.RandomID(), tokens.RandomID()
	if len(a) != 22 || a == b {
		t.Fatalf("RandomID() = %q, %q; want two different 22-character IDs", a, b)
	}
}
