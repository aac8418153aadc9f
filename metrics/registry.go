package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registry is a Prometheus registry with the Go runtime and process
// collectors, served in the text format: the auth server's (Metrics) and
// the gateway's (Gateway).
type registry struct {
	*prometheus.Registry
}

func newRegistry() registry {
	r := registry{prometheus.NewRegistry()}
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// Handler serves the metrics in the Prometheus text format.
func (r registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.Registry, promhttp.HandlerOpts{Registry: r.Registry})
}

// counterOf registers a counter by one label and starts every value of it
// at zero, so the series exist (and a rate() has a start) before the
// first event.
func counterOf[V ~string](r registry, name, help, label string, values []V) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	r.MustRegister(c)
	for _, v := range values {
		c.WithLabelValues(string(v))
	}
	return c
}
