// Package handlers is tokenflow's HTTP layer: Echo routes, the echo-jwt
// guard, cookies, and the page and JSON handlers. It reaches the store,
// the token code and the password hasher only through the small interfaces
// below, so a PostgreSQL store or asymmetric keys slot in without changes
// here.
package handlers

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"tokenflow/auth"
	"tokenflow/store"
	"tokenflow/tokens"
)

// Store is what the handlers need from persistence. *sqlite.Store implements
// it; the error values are the store package's sentinels.
type Store interface {
	Ping(ctx context.Context) error
	CreateUser(ctx context.Context, username, passwordHash string) (store.User, error)
	UserByUsername(ctx context.Context, username string) (store.User, error)
	UserByID(ctx context.Context, id string) (store.User, error)
	CreateSession(ctx context.Context, s store.NewSession) (store.Session, error)
	RotateRefreshToken(ctx context.Context, r store.Rotation) (store.Session, error)
	DetectRefreshReuse(ctx context.Context, presentedHash string, client store.Client) (store.Session, error)
	SessionByRefreshHash(ctx context.Context, hash string) (store.Session, error)
	Session(ctx context.Context, id string) (store.Session, error)
	ActiveSessions(ctx context.Context, userID string) ([]store.Session, error)
	RevokeSession(ctx context.Context, userID, sessionID, kind string, client store.Client) error
	RevokeUserSessions(ctx context.Context, userID, exceptSessionID string, client store.Client) (int, error)
	SessionEvents(ctx context.Context, sessionID string, limit int) ([]store.Event, error)
}

// TokenIssuer signs access tokens (tokens.Issuer).
type TokenIssuer interface {
	Issue(userID, username, sessionID string) (string, tokens.Claims, error)
}

// TokenVerifier checks access tokens (tokens.Verifier).
type TokenVerifier interface {
	Verify(token string) (*tokens.Claims, error)
}

// AccessTokens issues and verifies access tokens (tokens.Manager: an
// Issuer and a Verifier on one key set).
type AccessTokens interface {
	TokenIssuer
	TokenVerifier
}

var (
	_ TokenIssuer   = (*tokens.Issuer)(nil)
	_ TokenVerifier = (*tokens.Verifier)(nil)
	_ AccessTokens  = (*tokens.Manager)(nil)
)

// Passwords hashes and checks passwords (password.Hasher).
type Passwords interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyDummy(ctx context.Context, password string)
}

// Settings are the parts of the configuration the HTTP layer uses.
type Settings struct {
	// Production forces Secure cookies and hides development tools.
	Production bool
	// RefreshTokenTTL is the idle lifetime of a session; each refresh slides it.
	RefreshTokenTTL time.Duration
	// SessionMaxAge caps a session however often it is refreshed.
	SessionMaxAge time.Duration
	// RefreshReuseGrace is how long a rotated refresh token may come back
	// (two tabs, a lost response) before it counts as theft.
	RefreshReuseGrace time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed. Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// LoginFailureLimit is the number of failed logins per account before
	// growing delays start. Required (> 0): the defaults live in config.
	LoginFailureLimit int
	// IPFailureLimit is the number of failed logins per client address per
	// 15 minutes. Required (> 0).
	IPFailureLimit int
	// RegisterRateLimit is the number of registrations per client address
	// per hour. Required (> 0).
	RegisterRateLimit int
	// RefreshRateLimit is the number of refreshes per session per minute
	// (store.RefreshRateLimitWindow). Required (> 0).
	RefreshRateLimit int

	// LoginRateLimit is the number of logins per client address per 15
	// minutes, successful and failed alike. Required (> 0).
	LoginRateLimit int
	// MaxSessionsPerUser is the number of live sessions an account may
	// have; a login past it ends the least recently used. Required (> 0).
	MaxSessionsPerUser int
}

// Deps are everything New needs. Now and Logger are optional.
type Deps struct {
	Store     Store
	Tokens    AccessTokens
	Passwords Passwords
	Settings  Settings
	Logger    *slog.Logger
	Now       func() time.Time
	// ExpiredTokens signs the already-expired tokens of the development
	// "expire my access token" button: an Issuer on the same keys whose
	// clock runs behind. Optional, development only; nil: the button
	// answers 501.
	ExpiredTokens TokenIssuer
	// Observer is told how logins and refreshes end (metrics). Optional.
	Observer auth.Observer
	// Readiness answers GET /readyz. Optional; nil: ready when the store
	// answers.
	Readiness Readiness

	// hashWait replaces auth.MaxHashWait in tests (zero: auth.MaxHashWait).
	hashWait time.Duration
}

// handler carries the dependencies of every route.
type handler struct {
	store     Store
	tokens    AccessTokens
	expired   TokenIssuer // Deps.ExpiredTokens
	passwords Passwords
	settings  Settings
	log       *slog.Logger
	now       func() time.Time
	auth      *auth.Service
	hashWait  time.Duration // see auth.MaxHashWait
	readiness Readiness     // Deps.Readiness
	// cookieNames are fixed by Settings.Production in New (CookieNames).
	cookieNames authCookieNames
}
