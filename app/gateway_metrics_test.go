package app

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/httpx/jwkstest"
	"tokenflow/internal/testkit"
)

// The gateway serves its own metrics on METRICS_ADDR, and a forged token
// (the attacker's key under the published kid) is counted as
// invalid_signature, not ok, and its latency lands under the route pattern.
func TestGatewayMetricsCountAForgedToken(t *testing.T) {
	key, attacker := jwkstest.NewKey(t), jwkstest.NewKey(t)
	jwks := jwkstest.NewServer(t, key)
	vars := map[string]string{
		"ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0",
		"AUTH_URL": jwks.URL, "NOTES_URL": "http://127.0.0.1:1",
		"JWT_ISSUER": jwkstest.Issuer, "JWT_AUDIENCE": jwkstest.Audience,
	}
	stdout := &testkit.SyncBuffer{}
	base := testkit.Start(t, "RunGateway", func(ctx context.Context, ready func(string)) error {
		return RunGateway(ctx, func(k string) string { return vars[k] }, stdout, io.Discard, ready)
	}).URL
	metricsURL := metricsURLFrom(t, stdout.String())

	token := jwkstest.SignHeader(t, jwt.SigningMethodES256, attacker.Private,
		map[string]any{"kid": key.Kid, "typ": "at+jwt"}, jwkstest.Claims("victim", time.Now()))
	if got, _ := testkit.BearerStatus(t, base+"/api/notes", token); got != http.StatusUnauthorized {
		t.Fatalf("forged token: %d, want 401", got)
	}
	for sample, want := range map[string]float64{
		`tokenflow_gateway_verifications_total{result="invalid_signature"}`:                         1,
		`tokenflow_gateway_verifications_total{result="ok"}`:                                        0,
		`tokenflow_http_request_duration_seconds_count{code="401",method="GET",route="/api/notes"}`: 1,
	} {
		if got := metricValue(t, metricsURL, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
}
