package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tokenflow/gateway"
)

// Gateway is the gateway's registry: its token checks by result, and the
// Go runtime and process. Safe for concurrent use.
type Gateway struct {
	registry      *prometheus.Registry
	verifications *prometheus.CounterVec
}

var _ gateway.Observer = (*Gateway)(nil)

// NewGateway returns the gateway's metrics, every result at zero.
func NewGateway() *Gateway {
	g := &Gateway{
		registry: prometheus.NewRegistry(),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenflow_gateway_verifications_total",
			Help: "Access-token checks on the gateway's guarded paths, by result: ok, missing, expired, invalid_signature, unknown_kid, malformed, invalid_claims, invalid.",
		}, []string{"result"}),
	}
	g.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		g.verifications,
	)
	for _, r := range gateway.VerifyResults {
		g.verifications.WithLabelValues(string(r))
	}
	return g
}

// TokenVerified counts a check by result (gateway.Observer).
func (g *Gateway) TokenVerified(r gateway.VerifyResult) {
	g.verifications.WithLabelValues(string(r)).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (g *Gateway) Handler() http.Handler {
	return promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{Registry: g.registry})
}
