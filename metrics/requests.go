package metrics

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"tokenflow/httpx"
)

// requestDurations is tokenflow_http_request_duration_seconds, the
// latency per route of one server: the auth server's (Metrics) and the
// gateway's (Gateway) each register their own.
type requestDurations struct {
	requests *prometheus.HistogramVec
}

func newRequestDurations(r registry) requestDurations {
	d := requestDurations{prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tokenflow_http_request_duration_seconds",
		Help:    "HTTP request latency by method, route pattern and status code.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "code"})}
	r.MustRegister(d.requests)
	return d
}

// unmatchedRoute labels requests no route matched (404s), so
// scanners probing random paths add one series, not one per path.
const unmatchedRoute = "unmatched"

// RequestDuration is Echo middleware observing each request's latency
// under its route pattern (/sessions/:id/revoke), never the raw path, so
// the number of series stays bounded. Add it with e.Use after the other
// middleware: it runs innermost, and records the code sent
// (httpx.AfterResponse).
func (d requestDurations) RequestDuration() echo.MiddlewareFunc {
	return httpx.AfterResponse(func(c echo.Context, took time.Duration) {
		route := c.Path()
		if route == "" {
			route = unmatchedRoute
		}
		d.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(c.Response().Status)).
			Observe(took.Seconds())
	})
}
