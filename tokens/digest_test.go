package tokens_test

import (
	"crypto/sha256"
	"testing"

	"tokenflow/tokens"
)

// Claims.Digest is the SHA-256 of the token asked about, whether the claims
// came from a full check, from the cache, from another token or from no
// verifier at all: a digest kept by the verifier never stands for another
// token.
func TestClaimsDigestIsTheTokensOwn(t *testing.T) {
	s := newCached(t, 10, 0)
	token, other := s.issue(t, "sid-1"), s.issue(t, "sid-2")
	for i, what := range []string{"full check", "cache hit"} {
		cl, err := s.manager.Verify(token)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cl.Digest(token), sha256.Sum256([]byte(token)); got != want {
			t.Errorf("#%d (%s): Digest(its token) = %x, want %x", i+1, what, got, want)
		}
		if got, want := cl.Digest(other), sha256.Sum256([]byte(other)); got != want {
			t.Errorf("#%d (%s): Digest(another token) = %x, want that token's %x", i+1, what, got, want)
		}
		if got, want := cl.Digest(""), sha256.Sum256(nil); got != want {
			t.Errorf("#%d (%s): Digest(\"\") = %x, want %x", i+1, what, got, want)
		}
	}
	var none *tokens.Claims
	if got, want := none.Digest(token), sha256.Sum256([]byte(token)); got != want {
		t.Errorf("nil claims: Digest = %x, want %x", got, want)
	}
	if got, want := (&tokens.Claims{}).Digest(""), sha256.Sum256(nil); got != want {
		t.Errorf("zero claims: Digest(\"\") = %x, want %x", got, want)
	}
}
