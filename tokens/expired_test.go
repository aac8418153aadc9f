package tokens_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// The development "expire my access token" button gets its token from a
// second Issuer on the same keys whose clock runs behind: the production
// types have no method that signs expired tokens. Its token must be refused
// as expired (not as malformed or unverifiable), for the same user and
// session.
func TestShiftedIssuerTokensAreExpired(t *testing.T) {
	m := managerAt(t, 0)
	shifted, err := tokens.NewIssuer(m.Keys(), tokens.IssuerConfig{
		Issuer: testIssuer, Audience: testAudience, TTL: testTTL,
		Now: func() time.Time { return testNow.Add(-testTTL - time.Minute) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, claims, err := shifted.Issue(testUserID, testUsername, testSession)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != testUserID || claims.SessionID != testSession || claims.Username != testUsername {
		t.Errorf("claims %+v, want user %q, session %q", claims, testUserID, testSession)
	}
	if !claims.ExpiresAt.Before(testNow.Add(-tokens.MaxLeeway)) {
		t.Errorf("exp %v is not beyond the leeway before %v", claims.ExpiresAt, testNow)
	}
	_, err = m.Verify(tok)
	if !errors.Is(err, jwt.ErrTokenExpired) || !tokens.Expired(err) || !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("Verify: %v, want an expired-token error", err)
	}
}
