// Package app wires tokenflow together: settings, store, keys, password
// hasher, HTTP server, the cleanup job, and graceful shutdown. main calls
// Run; tests (the browser tests too) call the same Run with their own
// environment, so what they exercise is what ships.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tokenflow/auth"
	"tokenflow/config"
	"tokenflow/handlers"
	"tokenflow/password"
	"tokenflow/signingkeys"
	"tokenflow/store/postgres"
	"tokenflow/throttle"
	"tokenflow/tokens"
)

// The subcommands main runs, each the ...With function with the zero
// Options. Each serves until ctx is cancelled, then shuts down gracefully
// and returns nil; start-up problems (a bad setting, an unusable database)
// come back as one error naming the cause; ready, if not nil, receives the
// base URL once it listens.
var (
	// Run serves the auth server.
	Run = withoutOptions(RunWith)
	// RunGateway serves the API gateway.
	RunGateway = withoutOptions(RunGatewayWith)
	// RunNotes serves the notes service.
	RunNotes = withoutOptions(RunNotesWith)
	// RunStack runs the auth server, the notes service and the gateway,
	// each on its own listener, talking only HTTP over loopback: the auth
	// server and notes on random loopback ports, the gateway on ADDR. It
	// prints the gateway's URL, the one to open, and stops all three when
	// ctx ends (or when one fails).
	RunStack = withoutOptions(RunStackWith)
)

// runWith is the shape of RunWith, RunGatewayWith, RunNotesWith and
// RunStackWith.
type runWith func(ctx context.Context, opts Options, getenv func(string) string, stdout, stderr io.Writer, ready func(baseURL string)) error

func withoutOptions(run runWith) func(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, ready func(baseURL string)) error {
	return func(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, ready func(baseURL string)) error {
		return run(ctx, Options{}, getenv, stdout, stderr, ready)
	}
}

// Options change what no setting may: they are for tests, which pass them
// in code, so an operator cannot set them by accident. The zero value is
// what main runs.
type Options struct {
	// Now replaces the wall clock everywhere a lifetime is decided: the
	// store, the token issuers and the verifier, the session service and
	// the handlers. Optional. Default value time.Now.
	Now func() time.Time
}

// RunWith is Run with Options.
func RunWith(ctx context.Context, opts Options, getenv func(string) string, stdout, stderr io.Writer, ready func(baseURL string)) error {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stderr)
	for _, notice := range cfg.Notices {
		log.Info(notice)
	}

	// Listen first: a port that is taken stops start-up before the data
	// folder, the database, the key or the demo account are created.
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close() // on an early return; after Serve it is closed already
	metricsLn, err := listenMetrics(cfg.MetricsAddr)
	if err != nil {
		return err
	}
	defer metricsLn.close()

	onSQLite := !postgres.IsURL(cfg.DatabaseURL)
	_, statErr := os.Stat(cfg.SQLitePath())
	newDatabase := onSQLite && errors.Is(statErr, fs.ErrNotExist)
	st, err := openStore(ctx, cfg, now)
	if err != nil {
		return err
	}
	defer st.Close()
	printDataFolder(stdout, cfg.DataDir, newDatabase)
	if onSQLite {
		warnIfOpenToOthers(log, cfg.DataDir, filepath.Dir(cfg.SQLitePath()))
	} else {
		warnIfOpenToOthers(log, cfg.DataDir)
	}

	tokenConfig := tokens.Config{
		Issuer:   cfg.JWTIssuer,
		Audience: cfg.JWTAudience,
		TTL:      cfg.AccessTokenTTL,
		Leeway:   cfg.AccessTokenLeeway,
		Now:      now,
		// The guard answers a browser's repeat of its token from memory;
		// a revoked key still fails at once (tokens/cache.go).
		VerifiedCacheSize: tokens.DefaultVerifiedCacheSize,
	}
	var published *tokens.Keyring // the JWKS; nil under HS256
	var keys *signingkeys.Manager // nil under HS256
	if cfg.Asymmetric() {
		var stopKeys func()
		keys, stopKeys, err = startSigningKeys(ctx, cfg, st, log)
		if err != nil {
			return err
		}
		defer stopKeys() // before st.Close, deferred earlier
		tokenConfig.Keys, published = keys.Keyring(), keys.Keyring()
	} else {
		tokenConfig.Secret = cfg.JWTSecret
		if tokenConfig.Secret == nil {
			// Development only (production refuses to start without one): a
			// random key kept beside the database, so restarts keep sessions.
			if tokenConfig.Secret, err = tokens.LoadOrCreateSecret(cfg.DataDir + "/jwt-secret"); err != nil {
				return fmt.Errorf("JWT_SECRET: generating a development secret: %w", err)
			}
		}
	}
	tm, err := tokens.NewManager(tokenConfig)
	if err != nil {
		return err
	}
	var expiredTokens handlers.TokenIssuer
	if !cfg.Production() {
		if expiredTokens, err = expiredTokenIssuer(tm.Keyring(), cfg, now); err != nil {
			return err
		}
	}
	labTokens, labVerifier, err := tokens.NewLab(tm.Keyring(), tokens.LabConfig{
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Leeway: cfg.AccessTokenLeeway, Now: now,
	})
	if err != nil {
		return fmt.Errorf("JWT_AUDIENCE: %w", err)
	}
	hasher := password.NewHasher(password.DefaultParams(), cfg.PasswordHashWorkers)
	m, observer := newMetrics(metricsLn, st, hasher)
	if m != nil && keys != nil {
		keys.SetObserver(m.WatchSigningKeys())
	}
	readyz := &readiness{store: st, keys: accessKeysWork(tm)}

	if cfg.DemoUser {
		if err := ensureDemoUser(ctx, st, hasher, cfg.DataDir, stdout); err != nil {
			return err
		}
	}

	e, err := handlers.New(handlers.Deps{
		Auth:          newSessionService(cfg, st, tm, hasher, observer, log, now),
		Store:         st,
		Tokens:        tm,
		ExpiredTokens: expiredTokens,
		Keys:          published,
		LabTokens:     labTokens,
		LabVerifier:   labVerifier,
		Logger:        log,
		Now:           now,
		Readiness:     readyz,
		Settings: handlers.Settings{
			Production:     cfg.Production(),
			TrustedProxies: cfg.TrustedProxies,
			JWTIssuer:      cfg.JWTIssuer,
			JWKSMaxAge:     cfg.JWKSMaxAge,
			PublicURL:      cfg.PublicURL,
		},
	})
	if err != nil {
		return err
	}
	if m != nil {
		e.Use(m.RequestDuration()) // innermost: it sees the route pattern and the status sent
	}

	srv := newHTTPServer(e, log)

	// Deferred after st.Close, so it runs before: the job has returned
	// before the store closes under it.
	deleted := func(int) {}
	if m != nil {
		deleted = m.SessionsDeleted
	}
	stopCleanup := startCleanup(st, cfg.CleanupInterval, log, deleted)
	defer stopCleanup()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	metricsLn.start(m, log, stdout)
	url := baseURL(ln.Addr())
	fmt.Fprintf(stdout, "tokenflow (%s) listening on %s\n", cfg.Env, url)
	if ready != nil {
		ready(url)
	}

	select {
	case err := <-served:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	if err := drainAndShutdown(srv, served, readyz, cfg.ShutdownDrain, log); err != nil {
		return err
	}
	return metricsLn.shutdown()
}

// printDataFolder says where the state lives. DATA_DIR is relative to the
// working directory, so starting from another folder quietly makes a second
// database, secret and demo account; the absolute path and "(new)" show it
// at once.
func printDataFolder(stdout io.Writer, dataDir string, newDatabase bool) {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	state := "existing"
	if newDatabase {
		state = "new"
	}
	fmt.Fprintf(stdout, "data: %s (%s)\n", dataDir, state)
}

// warnIfOpenToOthers logs one line for each folder holding the data that
// other users of the machine may enter. The files in it are 0600 anyway;
// the line is for the operator, who may not know the folder is open.
func warnIfOpenToOthers(log *slog.Logger, dirs ...string) {
	seen := map[string]bool{}
	for _, dir := range dirs {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		info, err := os.Stat(dir)
		if err != nil || info.Mode().Perm()&0o077 == 0 {
			continue
		}
		log.Warn("the data folder is open to other users of this machine; its files are private (0600), but consider chmod 700",
			"path", dir, "mode", fmt.Sprintf("%04o", info.Mode().Perm()))
	}
}

// baseURL is what to open in a browser: a wildcard address becomes localhost.
func baseURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}

// expiredDeleter is the part of the store the cleanup job uses.
type expiredDeleter interface {
	DeleteExpired(ctx context.Context, batch int) (int, error)
}

// cleanupBatch bounds how many sessions one DELETE removes, so cleanup never
// holds the write lock for long.
const cleanupBatch = 500

// startCleanup deletes dead sessions every interval, in the background
// (startEvery), until the returned stop is called.
func startCleanup(st expiredDeleter, every time.Duration, log *slog.Logger, deleted func(n int)) (stop func()) {
	return startEvery(every, func(ctx context.Context) { cleanupRound(ctx, st, log, deleted) })
}

// cleanupRound deletes dead sessions and their tokens in bounded batches
// until none are left, so the tables do not grow without limit, and tells
// deleted how many each batch removed (the metrics). A batch cut short by
// ctx ending is no failure.
func cleanupRound(ctx context.Context, st expiredDeleter, log *slog.Logger, deleted func(n int)) {
	total := 0
	for ctx.Err() == nil {
		n, err := st.DeleteExpired(ctx, cleanupBatch)
		if err != nil {
			if ctx.Err() != nil {
				return // stopping
			}
			log.Error("cleanup failed", "error", err.Error())
			break
		}
		if n > 0 {
			deleted(n)
		}
		total += n
		if n < cleanupBatch {
			break
		}
	}
	if total > 0 {
		log.Info("cleanup", "sessions_deleted", total)
	}
}

// startEvery runs job every interval in the background (the cleanup, the
// signing keys' poll) until the returned stop is called. stop waits for a
// job in progress, whose ctx it ends, to return, so what the job uses can
// be closed right after.
func startEvery(every time.Duration, job func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			job(ctx)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// expiredTokenIssuer is the development "expire my access token" button's
// issuer: the same keys and claims as the real one, with a clock one TTL
// and a minute (well beyond tokens.MaxLeeway) behind, so its tokens are
// refused as expired like any other and the refresh flow can be watched.
func expiredTokenIssuer(keys *tokens.Keyring, cfg config.Config, now func() time.Time) (*tokens.Issuer, error) {
	behind := cfg.AccessTokenTTL + time.Minute
	return tokens.NewKeyringIssuer(keys, tokens.IssuerConfig{
		Issuer:   cfg.JWTIssuer,
		Audience: cfg.JWTAudience,
		TTL:      cfg.AccessTokenTTL,
		Now:      func() time.Time { return now().Add(-behind) },
	})
}

// newSessionService is the session service over the store, with the
// throttle's counters where every instance can share them (throttleStore).
func newSessionService(cfg config.Config, st auth.Store, issuer auth.Issuer, passwords auth.Passwords, observer auth.Observer, log *slog.Logger, now func() time.Time) *auth.Service {
	return auth.NewService(auth.Deps{
		Store:     st,
		Issuer:    issuer,
		Passwords: passwords,
		Throttle:  throttle.New(throttleStore(cfg, st, log)),
		Config: auth.Config{
			RefreshTokenTTL:    cfg.RefreshTokenTTL,
			SessionMaxAge:      cfg.SessionMaxAge,
			RefreshReuseGrace:  cfg.RefreshReuseGrace,
			RefreshRateLimit:   cfg.RefreshRateLimit,
			MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		},
		Now:      now,
		Observer: observer,
	})
}

// throttleStore keeps the throttle's counters in the database when it is
// PostgreSQL, the one several instances share, so a brute force spread over
// them is counted as one; otherwise (SQLite: one process) in memory.
func throttleStore(cfg config.Config, st auth.Store, log *slog.Logger) throttle.Store {
	if pg, ok := st.(*postgres.Store); ok {
		return postgres.NewThrottle(pg, throttleLimits(cfg), log)
	}
	return throttle.NewMemory(throttleLimits(cfg), log)
}

// throttleLimits are the throttle's settings.
func throttleLimits(cfg config.Config) throttle.Limits {
	return throttle.Limits{
		LoginFailures:   cfg.LoginFailureLimit,
		AddressFailures: cfg.IPFailureLimit,
		Logins:          cfg.LoginRateLimit,
		Registrations:   cfg.RegisterRateLimit,
		// An attempt resolves within the hashing wait, which bounds both
		// its wait for room and its hash.
		AttemptTimeout: auth.MaxHashWait,
	}
}

// loadConfig loads the settings, then asks each component about the ones
// it owns (the server its address, the store its path, tokens the secret
// and the leeway, the session service and the throttle their limits),
// before anything is created, so a bad value is refused like any other
// setting.
func loadConfig(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return config.Config{}, err
	}
	if err := checkAddr(cfg.Addr); err != nil {
		return config.Config{}, fmt.Errorf("ADDR: %w", err)
	}
	if err := checkDatabaseURL(cfg); err != nil {
		return config.Config{}, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := tokens.CheckAlg(cfg.JWTAlg); err != nil {
		return config.Config{}, fmt.Errorf("JWT_ALG: %w", err)
	}
	if cfg.KeyEncryptionKey != "" {
		if err := signingkeys.CheckKeyEncryptionKey(cfg.KeyEncryptionKey); err != nil {
			return config.Config{}, fmt.Errorf("KEY_ENCRYPTION_KEY: %w", err)
		}
	}
	if cfg.JWTSecret != nil && !cfg.Asymmetric() {
		minSecret := tokens.MinSecretLength
		if cfg.Production() {
			minSecret = tokens.MinProductionSecretLength
		}
		if err := tokens.CheckSecretLength(cfg.JWTSecret, minSecret); err != nil {
			return config.Config{}, fmt.Errorf("JWT_SECRET: %w", err)
		}
	}
	if err := tokens.CheckLeeway(cfg.AccessTokenLeeway); err != nil {
		return config.Config{}, fmt.Errorf("ACCESS_TOKEN_LEEWAY: %w", err)
	}
	if err := auth.CheckRefreshReuseGrace(cfg.RefreshReuseGrace); err != nil {
		return config.Config{}, fmt.Errorf("REFRESH_REUSE_GRACE: %w", err)
	}
	if err := auth.CheckRefreshRateLimit(cfg.RefreshRateLimit); err != nil {
		return config.Config{}, fmt.Errorf("REFRESH_RATE_LIMIT: %w", err)
	}
	// config reads each limit as a positive number; this only catches a
	// limit added to throttle.Limits but not wired here.
	if err := throttleLimits(cfg).Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// checkAddr checks the listen address before anything is created, rather
// than leaving it to net.Listen: a bad port must stop start-up first. Port
// 0 asks for any free port (tests use it).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (for example :8080 or 127.0.0.1:8080)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Errorf("port %q is not a number from 1 to 65535 (or 0 for any free port)", port)
	}
	return nil
}
