package app

// How the server is run: the log format, readiness and its draining flag,
// the metrics listener, and the order of a graceful shutdown.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"tokenflow/auth"
	"tokenflow/config"
	"tokenflow/handlers"
	"tokenflow/metrics"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after the listener closes. A login waits at most auth.MaxHashWait (5 s)
// for a hashing slot, so 10 s lets every request that was admitted finish;
// past it the rest are cut and Run reports the failed shutdown.
const shutdownTimeout = 10 * time.Second

// newLogger is the process's one logger: text for people (LOG_FORMAT=text,
// the default), JSON for log collectors.
func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// readinessStore is what readiness asks of the store (sqlite.Store).
type readinessStore interface {
	Ping(ctx context.Context) error
	MigrationsPending(ctx context.Context) (int, error)
}

// readiness is GET /readyz's answer: ready while the store answers, every
// migration is applied and the keys sign and verify, and not once a
// shutdown has begun (draining), so a load balancer stops sending here
// before the listener closes.
type readiness struct {
	store    readinessStore
	keys     func() error // nil when the keys can sign and verify
	draining atomic.Bool
}

var _ handlers.Readiness = (*readiness)(nil)

// Ready answers handlers.ErrDraining from the start of a shutdown, else the
// first thing that is not ready.
func (r *readiness) Ready(ctx context.Context) error {
	if r.draining.Load() {
		return handlers.ErrDraining
	}
	if err := r.store.Ping(ctx); err != nil {
		return err
	}
	switch n, err := r.store.MigrationsPending(ctx); {
	case err != nil:
		return err
	case n > 0:
		return fmt.Errorf("app: %d database migrations not applied", n)
	}
	return r.keys()
}

// accessKeysWork signs an access token and verifies it: "keys loaded" means
// the current key signs and the verifiers accept what it signed.
func accessKeysWork(tm interface {
	auth.Issuer
	handlers.TokenVerifier
}) func() error {
	return func() error {
		token, _, err := tm.Issue("readyz", "readyz", "readyz")
		if err != nil {
			return fmt.Errorf("app: signing: %w", err)
		}
		if _, err := tm.Verify(token); err != nil {
			return fmt.Errorf("app: verifying a fresh token: %w", err)
		}
		return nil
	}
}

// metricsServer listens on METRICS_ADDR, a listener apart from the public
// one. It is nil (and every method a no-op) when METRICS_ADDR is unset.
type metricsServer struct {
	srv    *http.Server
	ln     net.Listener
	served chan error
}

// listenMetrics opens METRICS_ADDR, before anything else is created, like
// the public listener.
func listenMetrics(addr string) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: cannot listen on %s: %w", addr, err)
	}
	return &metricsServer{ln: ln, served: make(chan error, 1)}, nil
}

// metricsHandler is a registry to serve: the auth server's metrics.Metrics
// or the gateway's metrics.Gateway.
type metricsHandler interface {
	Handler() http.Handler
}

// start serves m's handler; it prints where, as the public server does.
func (s *metricsServer) start(m metricsHandler, log *slog.Logger, stdout io.Writer) {
	if s == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { s.served <- s.srv.Serve(s.ln) }()
	fmt.Fprintf(stdout, "metrics on %s/metrics\n", baseURL(s.ln.Addr()))
}

// close stops the listener on an early return (before start, or after).
func (s *metricsServer) close() {
	if s != nil {
		s.ln.Close()
	}
}

// shutdown stops the metrics server last, so the drain stays observable.
func (s *metricsServer) shutdown() error {
	if s == nil || s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("metrics server: %w", err)
	}
	if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// drainAndShutdown is the graceful stop: readiness says draining at once;
// the server keeps serving (new requests too) for the drain delay, so a
// load balancer that polls /readyz sends no new traffic; then the listener
// closes and in-flight requests finish, within shutdownTimeout. served is
// the public server's Serve result.
func drainAndShutdown(srv *http.Server, served <-chan error, ready *readiness, drain time.Duration, log *slog.Logger) error {
	ready.draining.Store(true)
	if drain > 0 {
		log.Info("draining: /readyz answers 503, still serving", "drain", drain.String())
		t := time.NewTimer(drain)
		defer t.Stop()
		select {
		case <-t.C:
		case err := <-served:
			return fmt.Errorf("server stopped while draining: %w", err)
		}
	}
	log.Info("shutting down: no new connections, finishing requests in flight")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newMetrics builds the metrics when METRICS_ADDR is set, watching the
// store's live sessions and the hasher's queue; observer is what the
// session service reports to (nil without metrics: a nil *Metrics must not
// become a non-nil interface).
func newMetrics(ln *metricsServer, st metrics.SessionCounter, hasher metrics.HashQueue) (*metrics.Metrics, auth.Observer) {
	if ln == nil {
		return nil, nil
	}
	m := metrics.New()
	m.WatchSessions(st)
	m.WatchHasher(hasher)
	return m, m
}
