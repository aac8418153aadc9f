// Package config reads tokenflow's settings from the environment and
// validates them, so a typo stops start-up with one clear line instead of a
// surprise at the first request.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// MaxRefreshReuseGrace bounds REFRESH_REUSE_GRACE: the window only has to
// cover two tabs refreshing at once or a lost response, and inside it a
// replayed token goes undetected.
const MaxRefreshReuseGrace = time.Minute

// MaxRefreshRateLimit bounds REFRESH_RATE_LIMIT. A browser refreshes about
// once per access-token lifetime (a few more with several tabs); far more
// than that is a script minting tokens and rows.
const MaxRefreshRateLimit = 60

// Config is every setting of the app. The zero value is not useful: call Load.
type Config struct {
	Addr              string
	DatabaseURL       string // "" selects the SQLite file DataDir/tokenflow.db
	DataDir           string
	Env               string
	AccessTokenTTL    time.Duration
	AccessTokenLeeway time.Duration // clock skew allowed when checking exp, iat, nbf
	RefreshTokenTTL   time.Duration // idle lifetime of a session
	SessionMaxAge     time.Duration // absolute lifetime of a session
	RefreshReuseGrace time.Duration
	CleanupInterval   time.Duration
	JWTSecret         []byte // nil: generate and persist one (development only)
	JWTIssuer         string
	JWTAudience       string
	TrustedProxies    []netip.Prefix
	LoginFailureLimit int
	IPFailureLimit    int
	RegisterRateLimit int
	RefreshRateLimit  int  // refreshes per session per minute
	DemoUser          bool // create the demo account on start (development default)

	LoginRateLimit     int // logins per client address per 15 minutes, successful ones too
	MaxSessionsPerUser int // live sessions per account; a login past it ends the least recently used

	Operations // SHUTDOWN_DRAIN, METRICS_ADDR, LOG_FORMAT (operations.go)

	// Notices are adjustments Load made to values that were not set
	// explicitly, one line each, for the operator to read at start-up.
	Notices []string
}

// Production reports whether APP_ENV=production.
func (c Config) Production() bool { return c.Env == Production }

// Load reads the settings through getenv (os.Getenv in main, a map in tests).
// The error names the setting that is wrong and what was expected.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Addr:              r.str("ADDR", ":8080"),
		DatabaseURL:       r.str("DATABASE_URL", ""),
		DataDir:           r.str("DATA_DIR", "data"),
		Env:               r.str("APP_ENV", Development),
		AccessTokenTTL:    r.duration("ACCESS_TOKEN_TTL", 5*time.Minute),
		AccessTokenLeeway: r.leeway("ACCESS_TOKEN_LEEWAY", 5*time.Second),
		RefreshTokenTTL:   r.duration("REFRESH_TOKEN_TTL", 168*time.Hour),
		SessionMaxAge:     r.duration("SESSION_MAX_AGE", 720*time.Hour),
		RefreshReuseGrace: r.durationOrZero("REFRESH_REUSE_GRACE", 10*time.Second),
		CleanupInterval:   r.duration("CLEANUP_INTERVAL", 10*time.Minute),
		JWTIssuer:         r.str("JWT_ISSUER", "tokenflow"),
		JWTAudience:       r.str("JWT_AUDIENCE", "tokenflow"),
		TrustedProxies:    r.prefixes("TRUSTED_PROXIES"),
		LoginFailureLimit: r.positiveInt("LOGIN_FAILURE_LIMIT", 5),
		IPFailureLimit:    r.positiveInt("IP_FAILURE_LIMIT", 50),
		RegisterRateLimit: r.positiveInt("REGISTER_RATE_LIMIT", 30),
		RefreshRateLimit:  r.positiveInt("REFRESH_RATE_LIMIT", 20),
	}
	if s := getenv("JWT_SECRET"); s != "" {
		c.JWTSecret = []byte(s)
	}
	// 100 logins per address per quarter hour, successful ones included:
	// an honest login is needed only when a session ends (a week idle, a
	// month at most), so even an office of a thousand people behind one NAT
	// address rarely has a hundred in fifteen minutes, while one client
	// logging in without end is held to 400 new sessions an hour.
	c.LoginRateLimit = r.positiveInt("LOGIN_RATE_LIMIT", 100)
	// 10 live sessions per account: a phone, a laptop, a work machine and a
	// few browsers, with room to spare.
	c.MaxSessionsPerUser = r.positiveInt("MAX_SESSIONS_PER_USER", 10)
	c.Operations = loadOperations(&r, c.Env, c.Addr)
	if r.err != nil {
		return Config{}, r.err
	}
	return c, c.validate(strings.TrimSpace(getenv("REFRESH_TOKEN_TTL")) != "")
}

// validate checks the rules that span settings. refreshTTLSet tells an
// explicit REFRESH_TOKEN_TTL from the default, which may be capped.
func (c *Config) validate(refreshTTLSet bool) error {
	switch c.Env {
	case Development, Production:
	default:
		return fmt.Errorf("APP_ENV: %q is not one of %q, %q", c.Env, Development, Production)
	}
	if c.RefreshReuseGrace > MaxRefreshReuseGrace {
		return fmt.Errorf("REFRESH_REUSE_GRACE: %v is too long (at most %v): inside the window a replayed refresh token is not detected", c.RefreshReuseGrace, MaxRefreshReuseGrace)
	}
	if c.RefreshRateLimit > MaxRefreshRateLimit {
		return fmt.Errorf("REFRESH_RATE_LIMIT: %d is too high (at most %d refreshes per session per minute)", c.RefreshRateLimit, MaxRefreshRateLimit)
	}
	_, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %q is not host:port (for example :8080 or 127.0.0.1:8080)", c.Addr)
	}
	// Checked here, not left to net.Listen: a bad port must stop start-up
	// before anything is created. 0 asks for any free port (tests use it).
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Errorf("ADDR: port %q is not a number from 1 to 65535 (or 0 for any free port)", port)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "file:") {
		// PostgreSQL is a later step; refuse rather than silently use SQLite.
		return fmt.Errorf("DATABASE_URL: only SQLite is supported in this version (leave it empty, or use sqlite:PATH)")
	}
	if c.DatabaseURL != "" {
		// The store appends its own DSN options (?_txlock=…&_pragma=…), so
		// a path must be a plain file name.
		switch p := c.SQLitePath(); {
		case strings.TrimSpace(p) == "":
			return fmt.Errorf("DATABASE_URL: %q names no file (use sqlite:PATH, for example sqlite:data/tokenflow.db)", c.DatabaseURL)
		case strings.Contains(p, "?"):
			return fmt.Errorf("DATABASE_URL: %q: the path must not contain '?' (SQLite options are not accepted; the app sets its own)", c.DatabaseURL)
		}
	}
	if c.RefreshTokenTTL > c.SessionMaxAge {
		if refreshTTLSet {
			return fmt.Errorf("REFRESH_TOKEN_TTL: %v must not be longer than SESSION_MAX_AGE (%v)", c.RefreshTokenTTL, c.SessionMaxAge)
		}
		// Only the default is longer: a session cannot idle past its
		// absolute end anyway, so SESSION_MAX_AGE=12h alone must not fail.
		c.Notices = append(c.Notices, fmt.Sprintf("REFRESH_TOKEN_TTL not set: capped to SESSION_MAX_AGE (%v) instead of the default %v", c.SessionMaxAge, c.RefreshTokenTTL))
		c.RefreshTokenTTL = c.SessionMaxAge
	}
	if c.AccessTokenTTL > c.RefreshTokenTTL {
		return fmt.Errorf("ACCESS_TOKEN_TTL: %v must not be longer than REFRESH_TOKEN_TTL (%v) or SESSION_MAX_AGE (%v)", c.AccessTokenTTL, c.RefreshTokenTTL, c.SessionMaxAge)
	}
	if c.Production() {
		if len(c.JWTSecret) == 0 {
			return errors.New("JWT_SECRET: required when APP_ENV=production (at least 32 random bytes, e.g. openssl rand -base64 48)")
		}
		// How long the secret must be is the tokens package's rule; app
		// asks it (tokens.CheckSecretLength) right after Load.
	} else {
		c.DemoUser = true
	}
	return nil
}

// SQLitePath is the database file for the SQLite store.
func (c Config) SQLitePath() string {
	if p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok {
		return p
	}
	if p, ok := strings.CutPrefix(c.DatabaseURL, "file:"); ok {
		return p
	}
	return c.DataDir + "/tokenflow.db"
}

// reader collects the first error so Load reads like a list of settings.
type reader struct {
	getenv func(string) string
	err    error
}

func (r *reader) fail(name, value, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %q is not %s", name, value, want)
	}
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, v, "a positive Go duration such as 5m, 90s or 168h")
		return def
	}
	return d
}

// durationOrZero reads a duration of zero or more: for a window where 0 is
// the strict setting (REFRESH_REUSE_GRACE=0: no grace at all).
func (r *reader) durationOrZero(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, v, "a Go duration of zero or more, such as 0s, 10s or 1m")
		return def
	}
	return d
}

// leeway reads a non-negative Go duration; "0" and "0s" turn the leeway
// off (the browser tests do, so tokens expire on time). Its upper bound is
// the tokens package's (tokens.CheckLeeway), asked by app right after Load.
func (r *reader) leeway(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, v, "a Go duration from 0s to 5s")
		return def
	}
	return d
}

func (r *reader) positiveInt(name string, def int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.fail(name, v, "a positive whole number")
		return def
	}
	return n
}

// prefixes reads a comma-separated list of IP addresses or CIDR ranges.
func (r *reader) prefixes(name string) []netip.Prefix {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return nil
	}
	var out []netip.Prefix
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			r.fail(name, part, "an IP address or CIDR range (comma-separated list)")
			return nil
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}
