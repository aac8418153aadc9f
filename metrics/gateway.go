package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"tokenflow/gateway"
)

// Gateway is the gateway's registry: its token checks by result, its
// latency per route, and the Go runtime and process. Safe for concurrent
// use.
type Gateway struct {
	registry
	requestDurations
	verifications *prometheus.CounterVec
}

var _ gateway.Observer = (*Gateway)(nil)

// NewGateway returns the gateway's metrics, every result at zero.
func NewGateway() *Gateway {
	r := newRegistry()
	return &Gateway{
		registry:         r,
		requestDurations: newRequestDurations(r),
		verifications: counterOf(r, "tokenflow_gateway_verifications_total",
			"Access-token checks on the gateway's guarded paths, by result: ok, missing, expired, invalid_signature, unknown_kid, malformed, invalid_claims, invalid.",
			"result", gateway.VerifyResults),
	}
}

// TokenVerified counts a check by result (gateway.Observer).
func (g *Gateway) TokenVerified(r gateway.VerifyResult) {
	g.verifications.WithLabelValues(string(r)).Inc()
}
