// Package config reads tokenflow's settings from the environment, grouped
// by the component they configure. It parses every value and checks the
// rules that span components; each component checks its own settings (app
// asks them right after Load), so a typo or a bad value stops start-up with
// one clear line instead of a surprise at the first request.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Config is every setting of the app, grouped by the component that uses
// it. The zero value is not useful: call Load.
type Config struct {
	// Server (app, handlers): where to listen, which environment, whom to
	// believe about the client's address.
	Addr           string
	Env            string
	TrustedProxies []netip.Prefix
	DemoUser       bool // create the demo account on start (development default)

	// Store: where the data lives and how often dead sessions are removed.
	DatabaseURL     string // "" selects the SQLite file DataDir/tokenflow.db
	DataDir         string
	CleanupInterval time.Duration

	// Tokens: the access token's key, claims and lifetime.
	JWTSecret []byte // nil: generate and persist one (development only)
	// JWTAlg is ES256, EdDSA, RS256 or HS256 (JWT_ALG); the tokens
	// package says which it supports (app asks it after Load).
	JWTAlg string
	// KeyEncryptionKey seals the asymmetric private keys in the store;
	// "": generate and persist one (development only).
	KeyEncryptionKey string
	JWTKeyRotation   time.Duration // how long a key signs
	JWKSMaxAge       time.Duration // Cache-Control max-age of the JWKS
	// PublicURL is the server's public base URL for the discovery
	// document; "": derived from each request.
	PublicURL         string
	JWTIssuer         string
	JWTAudience       string
	AccessTokenTTL    time.Duration
	AccessTokenLeeway time.Duration // clock skew allowed when checking exp, iat, nbf

	// Sessions (auth): lifetimes, the reuse grace window, refresh and
	// session limits.
	RefreshTokenTTL    time.Duration // idle lifetime of a session
	SessionMaxAge      time.Duration // absolute lifetime of a session
	RefreshReuseGrace  time.Duration
	RefreshRateLimit   int // refreshes per session per minute
	MaxSessionsPerUser int // live sessions per account; a login past it ends the least recently used

	// Throttle: limits on logins and registrations.
	LoginFailureLimit int
	IPFailureLimit    int
	LoginRateLimit    int // logins per client address per 15 minutes, successful ones too
	RegisterRateLimit int

	// Password: argon2id computations at once; 0 (unset) leaves the
	// choice to the password package (fewer than the cores).
	PasswordHashWorkers int

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
	c.JWTAlg = r.str("JWT_ALG", "ES256")
	c.KeyEncryptionKey = getenv("KEY_ENCRYPTION_KEY")
	c.JWTKeyRotation = r.duration("JWT_KEY_ROTATION", 720*time.Hour)
	c.JWKSMaxAge = r.duration("JWKS_MAX_AGE", 5*time.Minute)
	c.PublicURL = strings.TrimRight(r.str("PUBLIC_URL", ""), "/")
	// 100 logins per address per quarter hour, successful ones included:
	// an honest login is needed only when a session ends (a week idle, a
	// month at most), so even an office of a thousand people behind one NAT
	// address rarely has a hundred in fifteen minutes, while one client
	// logging in without end is held to 400 new sessions an hour.
	c.LoginRateLimit = r.positiveInt("LOGIN_RATE_LIMIT", 100)
	// 10 live sessions per account: a phone, a laptop, a work machine and a
	// few browsers, with room to spare.
	c.MaxSessionsPerUser = r.positiveInt("MAX_SESSIONS_PER_USER", 10)
	if strings.TrimSpace(getenv("PASSWORD_HASH_WORKERS")) != "" {
		c.PasswordHashWorkers = r.positiveInt("PASSWORD_HASH_WORKERS", 0)
	}
	c.Operations = loadOperations(&r, c.Env, c.Addr)
	if r.err != nil {
		return Config{}, r.err
	}
	return c, c.validate(strings.TrimSpace(getenv("REFRESH_TOKEN_TTL")) != "")
}

// validate checks the rules that span components (the environment and the
// rest, sessions and tokens); each component's own rules are its own.
// refreshTTLSet tells an explicit REFRESH_TOKEN_TTL from the default, which
// may be capped.
func (c *Config) validate(refreshTTLSet bool) error {
	switch c.Env {
	case Development, Production:
	default:
		return fmt.Errorf("APP_ENV: %q is not one of %q, %q", c.Env, Development, Production)
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
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("PUBLIC_URL: %q is not a base URL such as https://auth.example.com", c.PublicURL)
		}
	}
	if c.Asymmetric() {
		if publishAhead := 2 * c.JWKSMaxAge; c.JWTKeyRotation <= publishAhead {
			return fmt.Errorf("JWT_KEY_ROTATION: %v must be longer than twice JWKS_MAX_AGE (%v): a new key is published that long before it signs", c.JWTKeyRotation, publishAhead)
		}
		if len(c.JWTSecret) > 0 {
			c.Notices = append(c.Notices, fmt.Sprintf("JWT_SECRET is set but JWT_ALG is %s: the secret is not used (set JWT_ALG=HS256 to keep signing with it)", c.JWTAlg))
		}
	}
	if c.Production() {
		if c.Asymmetric() && c.KeyEncryptionKey == "" {
			return errors.New("KEY_ENCRYPTION_KEY: required when APP_ENV=production with JWT_ALG=" + c.JWTAlg + " (at least 32 characters, e.g. openssl rand -base64 32; the same on every instance)")
		}
		if !c.Asymmetric() && len(c.JWTSecret) == 0 {
			return errors.New("JWT_SECRET: required when APP_ENV=production with JWT_ALG=HS256 (at least 32 random bytes, e.g. openssl rand -base64 48)")
		}
		// How long the secret must be is the tokens package's rule; app
		// asks it (tokens.CheckSecretLength) right after Load.
	} else {
		c.DemoUser = true
	}
	return nil
}

// Asymmetric reports whether tokens are signed with a published key pair
// (anything but HS256).
func (c Config) Asymmetric() bool { return c.JWTAlg != "HS256" }

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

// duration reads a positive Go duration.
func (r *reader) duration(name string, def time.Duration) time.Duration {
	return r.parseDuration(name, def, false, "a positive Go duration such as 5m, 90s or 168h")
}

// durationOrZero reads a duration of zero or more: for a window where 0 is
// the strict setting (REFRESH_REUSE_GRACE=0: no grace at all).
func (r *reader) durationOrZero(name string, def time.Duration) time.Duration {
	return r.parseDuration(name, def, true, "a Go duration of zero or more, such as 0s, 10s or 1m")
}

// leeway reads a non-negative Go duration; "0" and "0s" turn the leeway
// off (the browser tests do, so tokens expire on time). Its upper bound is
// the tokens package's (tokens.CheckLeeway), asked by app right after Load.
func (r *reader) leeway(name string, def time.Duration) time.Duration {
	return r.parseDuration(name, def, true, "a Go duration from 0s to 5s")
}

// parseDuration reads a Go duration, positive or (zeroOK) zero or more;
// want is what the error says was expected.
func (r *reader) parseDuration(name string, def time.Duration, zeroOK bool, want string) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		r.fail(name, v, want)
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
