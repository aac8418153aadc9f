package tokens_test

import (
	"strings"
	"testing"

	"tokenflow/tokens"
)

// MaxTokenLength is inclusive for genuine tokens too: a correctly signed
// token of exactly that many bytes (a long username, say) verifies, with
// or without the cache of verified tokens, whose length check runs before
// hashing; a genuine token just over it is refused. The padded tokens of
// TestMaxTokenLengthBoundary are refused either way, so they cannot tell
// ">" from ">=".
func TestGenuineTokenAtMaxTokenLengthVerifies(t *testing.T) {
	m := managerAt(t, 0)
	cfg := testConfig(testNow)
	cfg.VerifiedCacheSize = 4
	cached, err := tokens.NewManager(cfg)
	fatalIf(t, err)

	// issue signs for a username of n bytes. A base64url segment has no
	// length 4k+1, so the session id's length moves the token by the odd
	// byte, and the shortest token over the limit is two bytes over.
	issue := func(n int, sid string) string {
		token, _, err := m.Issue("user-1", strings.Repeat("u", n), sid)
		fatalIf(t, err)
		return token
	}
	var atLimit, overLimit string
	for n := tokens.MaxTokenLength * 3 / 4; n > 0 && (atLimit == "" || overLimit == ""); n-- {
		for _, sid := range []string{"s", "s2", "s23"} {
			switch token := issue(n, sid); {
			case len(token) == tokens.MaxTokenLength:
				atLimit = token
			case len(token) > tokens.MaxTokenLength && len(token) <= tokens.MaxTokenLength+2:
				overLimit = token
			}
		}
	}
	if atLimit == "" || overLimit == "" {
		t.Fatal("found no username length giving a token of MaxTokenLength and one just over")
	}
	for name, v := range map[string]*tokens.Manager{"without cache": m, "with cache": cached} {
		if _, err := v.Verify(atLimit); err != nil {
			t.Errorf("%s: a genuine token of exactly MaxTokenLength bytes: %v, want it verified", name, err)
		}
		if _, err := v.Verify(overLimit); err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("%s: a genuine token %d bytes long: %v, want it refused for its length", name, len(overLimit), err)
		}
	}
}
