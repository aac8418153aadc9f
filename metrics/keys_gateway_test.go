package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"tokenflow/gateway"
	"tokenflow/signingkeys"
)

func TestSigningKeyRotationsByKind(t *testing.T) {
	m := New()
	o := m.WatchSigningKeys()
	o.SigningKeyChanged(signingkeys.KeyRotatedScheduled)
	o.SigningKeyChanged(signingkeys.KeyRotatedScheduled)
	o.SigningKeyChanged(signingkeys.KeyRevoked)
	o.KeyringChanged(signingkeys.KeyringRotated)
	wantLines(t, scrape(t, m),
		`tokenflow_signing_key_changes_seen_total{change="rotation"} 1`,
		`tokenflow_signing_key_changes_seen_total{change="revocation"} 0`,
		`tokenflow_signing_key_rotations_total{kind="scheduled"} 2`,
		`tokenflow_signing_key_rotations_total{kind="command"} 0`,
		`tokenflow_signing_key_rotations_total{kind="revocation"} 1`,
	)
}

func TestGatewayVerificationsByResult(t *testing.T) {
	g := NewGateway()
	g.TokenVerified(gateway.VerifyOK)
	g.TokenVerified(gateway.VerifyInvalidSignature)
	g.TokenVerified(gateway.VerifyInvalidSignature)
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	wantLines(t, rec.Body.String(),
		`tokenflow_gateway_verifications_total{result="ok"} 1`,
		`tokenflow_gateway_verifications_total{result="invalid_signature"} 2`,
		`tokenflow_gateway_verifications_total{result="unknown_kid"} 0`,
		`tokenflow_gateway_verifications_total{result="missing"} 0`,
	)
}
