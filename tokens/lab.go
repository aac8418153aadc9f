package tokens

import (
	"errors"
	"fmt"
	"time"
)

// LabAudience is the aud of the token lab's tokens. No guard accepts it:
// every guard and service requires the deployment's own audience
// (JWT_AUDIENCE), so a lab token handed to page script opens nothing but
// the lab's own verification endpoint.
const LabAudience = "tokenflow-lab"

// LabTokenTTL is how long a lab token lives: long enough to edit and send
// it a few times, short enough to watch it expire.
const LabTokenTTL = time.Minute

// LabConfig configures NewLab. The fields mean what they mean in Config.
type LabConfig struct {
	Issuer string
	// Audience is the real tokens' audience. Required; it must not be
	// LabAudience, or lab tokens would open the real routes.
	Audience string
	Leeway   time.Duration
	Now      func() time.Time
}

// NewLab returns the token lab's pair over ring, the same keyring the real
// tokens use: an Issuer of the same claims for LabAudience, living
// LabTokenTTL, and a Verifier that is the real one in every check but the
// audience it requires. Same keys, same pinned algorithms, same precheck:
// what refuses an edited lab token is what would refuse an edited access
// token.
func NewLab(ring *Keyring, cfg LabConfig) (*Issuer, *Verifier, error) {
	if ring == nil {
		return nil, nil, errors.New("tokens: lab: no keyring")
	}
	if cfg.Audience == "" || cfg.Audience == LabAudience {
		return nil, nil, fmt.Errorf("tokens: lab: the real audience must be set and differ from %q", LabAudience)
	}
	issuer, err := NewKeyringIssuer(ring, IssuerConfig{Issuer: cfg.Issuer, Audience: LabAudience, TTL: LabTokenTTL, Now: cfg.Now})
	if err != nil {
		return nil, nil, err
	}
	verifier, err := NewKeyringVerifier(ring, VerifierConfig{Issuer: cfg.Issuer, Audience: LabAudience, Leeway: cfg.Leeway, Now: cfg.Now})
	if err != nil {
		return nil, nil, err
	}
	return issuer, verifier, nil
}
