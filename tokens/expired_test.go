package tokens_test

import (
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// IssueExpired backs the development "expire my access token" button: its
// token must be refused as expired (not as malformed), and otherwise carry
// the same user and session as Issue would.
func TestIssueExpired(t *testing.T) {
	m := managerAt(t, 0)
	tok, claims, err := m.IssueExpired(testUserID, testUsername, testSession)
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
	if _, _, err := m.IssueExpired("", testUsername, testSession); err == nil {
		t.Error("IssueExpired without a user id: no error")
	}
}
