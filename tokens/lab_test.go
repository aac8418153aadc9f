package tokens_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// TestNewLab: a lab token verifies only at the lab's verifier, and the lab
// refuses a deployment whose real audience is the lab's.
func TestNewLab(t *testing.T) {
	m, err := tokens.NewManager(tokens.Config{Secret: []byte("lab-secret-lab-secret-lab-secret"), Issuer: "tokenflow", Audience: "tokenflow", TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.NewLab(m.Keyring(), tokens.LabConfig{Issuer: "tokenflow", Audience: tokens.LabAudience}); err == nil {
		t.Fatal("NewLab accepted JWT_AUDIENCE = the lab audience: lab tokens would open the real routes")
	}
	issuer, verifier, err := tokens.NewLab(m.Keyring(), tokens.LabConfig{Issuer: "tokenflow", Audience: "tokenflow"})
	if err != nil {
		t.Fatal(err)
	}
	lab, _, err := issuer.Issue("user-1", "alice", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(lab); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
		t.Errorf("real verifier on a lab token: %v, want an audience error", err)
	}
	if _, err := verifier.Verify(lab); err != nil {
		t.Errorf("lab verifier on a lab token: %v", err)
	}
	real, _, err := m.Issue("user-1", "alice", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.Verify(real); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
		t.Errorf("lab verifier on a real token: %v, want an audience error", err)
	}
}
