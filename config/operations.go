package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Log formats (LOG_FORMAT).
const (
	LogText = "text"
	LogJSON = "json"
)

// MaxShutdownDrain bounds SHUTDOWN_DRAIN: a load balancer notices a failing
// readiness check within a few probe intervals; past a minute, a deploy
// only waits.
const MaxShutdownDrain = time.Minute

// ProductionShutdownDrain is SHUTDOWN_DRAIN's default with APP_ENV=production:
// about two readiness probes of a typical load balancer (every 2 s), so it
// stops sending before the listener closes. Development stops at once.
const ProductionShutdownDrain = 5 * time.Second

// Operations are the settings of how the server is run, not of what it does.
type Operations struct {
	// ShutdownDrain is how long the server keeps serving after SIGTERM with
	// /readyz answering 503, before it stops accepting connections.
	ShutdownDrain time.Duration
	// MetricsAddr is where Prometheus metrics are served; "" turns them off.
	// Never the public ADDR.
	MetricsAddr string
	// LogFormat is LogText or LogJSON.
	LogFormat string
}

// loadOperations reads SHUTDOWN_DRAIN, METRICS_ADDR and LOG_FORMAT; env is
// APP_ENV, which picks the drain default.
func loadOperations(r *reader, env, addr string) Operations {
	drainDefault := time.Duration(0)
	if env == Production {
		drainDefault = ProductionShutdownDrain
	}
	o := Operations{
		ShutdownDrain: r.durationOrZero("SHUTDOWN_DRAIN", drainDefault),
		MetricsAddr:   r.str("METRICS_ADDR", ""),
		LogFormat:     strings.ToLower(r.str("LOG_FORMAT", LogText)),
	}
	if r.err != nil {
		return o
	}
	switch {
	case o.ShutdownDrain > MaxShutdownDrain:
		r.err = fmt.Errorf("SHUTDOWN_DRAIN: %v is too long (at most %v)", o.ShutdownDrain, MaxShutdownDrain)
	case o.LogFormat != LogText && o.LogFormat != LogJSON:
		r.fail("LOG_FORMAT", o.LogFormat, `"text" or "json"`)
	case o.MetricsAddr != "":
		r.err = checkMetricsAddr(o.MetricsAddr, addr)
	}
	return o
}

// checkMetricsAddr refuses a metrics address that is no host:port or that
// shares the public port: the metrics tell the world how many sessions and
// failed logins there are, so they must sit on a listener of their own.
func checkMetricsAddr(metrics, public string) error {
	_, port, err := net.SplitHostPort(metrics)
	if err != nil || port == "" {
		return fmt.Errorf("METRICS_ADDR: %q is not host:port (for example 127.0.0.1:9090)", metrics)
	}
	if _, publicPort, err := net.SplitHostPort(public); err == nil && port == publicPort && port != "0" {
		return fmt.Errorf("METRICS_ADDR: %q uses the public port of ADDR (%s); metrics need a listener of their own", metrics, public)
	}
	return nil
}
