package app

// Wiring of the distributed form: the gateway, the notes service, and
// `stack`, which runs them with the auth server on loopback.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"tokenflow/config"
	"tokenflow/gateway"
	"tokenflow/handlers"
	"tokenflow/httpx"
	"tokenflow/metrics"
	"tokenflow/notes"
	"tokenflow/tokens"
)

// RunGatewayWith is RunGateway with Options: Now is the clock of its JWKS
// cache and its token checks.
func RunGatewayWith(ctx context.Context, opts Options, getenv func(string) string, stdout, stderr io.Writer, ready func(baseURL string)) error {
	cfg, err := config.LoadGateway(getenv)
	if err != nil {
		return err
	}
	log := serviceLogger(stderr, "gateway")
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	metricsLn, err := listenMetrics(cfg.MetricsAddr)
	if err != nil {
		return err
	}
	defer metricsLn.close()
	verifier, err := jwksVerifier(ctx, cfg, opts.Now, log)
	if err != nil {
		return err
	}
	access, _ := handlers.CookieNames(cfg.Production())
	gwConfig := gateway.Config{
		AuthURL: cfg.AuthURL, NotesURL: cfg.NotesURL, Verifier: verifier, AccessCookie: access, Logger: log,
	}
	var m *metrics.Gateway
	if metricsLn != nil {
		m = metrics.NewGateway()
		gwConfig.Observer = m // only when set: a nil *Gateway must not become a non-nil Observer
	}
	e, err := gateway.New(gwConfig)
	if err != nil {
		return err
	}
	if m != nil {
		e.Use(m.RequestDuration()) // innermost: it sees the route pattern and the status sent
	}
	metricsLn.start(m, log, stdout)
	defer metricsLn.shutdown()
	return serve(ctx, ln, e, log, stdout, "gateway", ready)
}

// RunNotesWith is RunNotes with Options: Now is the clock of its JWKS
// cache, its token checks and its notes' timestamps.
func RunNotesWith(ctx context.Context, opts Options, getenv func(string) string, stdout, stderr io.Writer, ready func(baseURL string)) error {
	cfg, err := config.LoadNotes(getenv)
	if err != nil {
		return err
	}
	log := serviceLogger(stderr, "notes")
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	path := filepath.Join(cfg.DataDir, "notes.db")
	st, err := notes.OpenStore(path)
	if err != nil {
		return fmt.Errorf("opening the notes database %s: %w", path, err)
	}
	defer st.Close()
	verifier, err := jwksVerifier(ctx, cfg, opts.Now, log)
	if err != nil {
		return err
	}
	access, _ := handlers.CookieNames(cfg.Production())
	e, err := notes.New(notes.Config{
		Store: st, Verifier: verifier, AccessCookie: access, Development: !cfg.Production(), Now: opts.Now, Logger: log,
	})
	if err != nil {
		return err
	}
	return serve(ctx, ln, e, log, stdout, "notes", ready)
}

// jwksVerifier builds the JWKS cache and its verifier, and tries one fetch
// now. A failure is logged, not fatal: the auth server may start later
// (docker-compose starts services in any order), and the cache fetches on
// the first request. now, if not nil, replaces the wall clock of the cache
// and of the token checks.
func jwksVerifier(ctx context.Context, cfg config.ServiceConfig, now func() time.Time, log *slog.Logger) (*httpx.JWKSVerifier, error) {
	if err := tokens.CheckLeeway(cfg.AccessTokenLeeway); err != nil {
		return nil, fmt.Errorf("ACCESS_TOKEN_LEEWAY: %w", err)
	}
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: cfg.JWKSURL(), Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	fetchCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := cache.Refresh(fetchCtx); err != nil {
		log.Warn("no JWKS yet; tokens are refused until it is fetched", "url", cfg.JWKSURL())
	}
	return cache.Verifier(tokens.VerifierConfig{
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Leeway: cfg.AccessTokenLeeway, Now: now,
		CacheSize: tokens.DefaultVerifiedCacheSize, // a key that leaves the JWKS drops its tokens
	})
}

// serviceLogger is the gateway's or the notes service's logger: text,
// each line naming the server.
func serviceLogger(stderr io.Writer, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("server", name)
}

// listen opens the public listener (ADDR) of any server.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ADDR: cannot listen on %s: %w", addr, err)
	}
	return ln, nil
}

// newHTTPServer is every public server's http.Server: bounded header,
// read, write and idle times and header size, so a slow or greedy client
// cannot hold a connection or memory, and its own errors in the log.
func newHTTPServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve runs handler on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, handler http.Handler, log *slog.Logger, stdout io.Writer, name string, ready func(string)) error {
	srv := newHTTPServer(handler, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := baseURL(ln.Addr())
	fmt.Fprintf(stdout, "tokenflow %s listening on %s\n", name, url)
	if ready != nil {
		ready(url)
	}
	select {
	case err := <-served:
		return fmt.Errorf("%s stopped: %w", name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("%s: graceful shutdown: %w", name, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// RunStackWith is RunStack with Options, given to all three servers: one
// test clock moves the auth server's tokens and the verifiers' checks
// together.
func RunStackWith(ctx context.Context, opts Options, getenv func(string) string, stdout, stderr io.Writer, ready func(baseURL string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	start := func(name string, run runWith, env func(string) string) <-chan string {
		url := make(chan string, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx, opts, env, stdout, stderr, func(u string) { url <- u }); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
			close(url)
		}()
		return url
	}
	wait := func(url <-chan string) (string, bool) {
		select {
		case u, ok := <-url:
			return u, ok
		case <-ctx.Done():
			return "", false
		}
	}
	finish := func() error {
		cancel()
		wg.Wait()
		close(errs)
		return errors.Join(collect(errs)...)
	}

	loopback := func(overrides map[string]string) func(string) string {
		return func(name string) string {
			if v, ok := overrides[name]; ok {
				return v
			}
			return getenv(name)
		}
	}
	// The gateway is the auth server's only client: believe its
	// X-Forwarded-For, so login limits count browsers, not the gateway.
	// Proxies in TRUSTED_PROXIES (in front of the gateway) come on top:
	// trusting them instead of the gateway would make every browser the
	// gateway's address, one login limit for everyone.
	trusted := "127.0.0.1/32"
	if front := getenv("TRUSTED_PROXIES"); front != "" {
		trusted = front + "," + trusted
	}
	authURL, ok := wait(start("auth", RunWith, loopback(map[string]string{"ADDR": "127.0.0.1:0", "TRUSTED_PROXIES": trusted})))
	if !ok {
		return finish()
	}
	notesURL, ok := wait(start("notes", RunNotesWith, loopback(map[string]string{"ADDR": "127.0.0.1:0", "AUTH_URL": authURL})))
	if !ok {
		return finish()
	}
	// METRICS_ADDR is the auth server's here: two listeners cannot share it.
	gatewayURL, ok := wait(start("gateway", RunGatewayWith, loopback(map[string]string{"AUTH_URL": authURL, "NOTES_URL": notesURL, "METRICS_ADDR": ""})))
	if !ok {
		return finish()
	}
	fmt.Fprintf(stdout, "\nOpen %s (gateway; auth server %s, notes %s)\n", gatewayURL, authURL, notesURL)
	if ready != nil {
		ready(gatewayURL)
	}
	<-ctx.Done()
	return finish()
}

func collect(errs <-chan error) []error {
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return all
}
