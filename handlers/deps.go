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

// Store is what the handlers themselves read from persistence, beside the
// session service (auth.Service, which has its own narrow interface).
// *sqlite.Store implements it; the error values are the store package's
// sentinels.
type Store interface {
	Ping(ctx context.Context) error
	ActiveSessions(ctx context.Context, userID string) ([]store.Session, error)
	// UserByID is for the token lab, which sets the username a token
	// carries beside the store's current one.
	UserByID(ctx context.Context, id string) (store.User, error)
}

// TokenIssuer signs access tokens (tokens.Issuer).
type TokenIssuer interface {
	Issue(userID, username, sessionID string) (string, tokens.Claims, error)
}

// TokenVerifier checks access tokens (tokens.Verifier).
type TokenVerifier interface {
	Verify(token string) (*tokens.Claims, error)
}

var (
	_ TokenIssuer   = (*tokens.Issuer)(nil)
	_ TokenVerifier = (*tokens.Verifier)(nil)
)

// Settings are the parts of the configuration the HTTP layer uses; the
// lifetimes and limits of sessions are the session service's (auth.Config,
// throttle.Limits).
type Settings struct {
	// Production forces Secure cookies and hides development tools.
	Production bool
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed. Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// JWTIssuer is the iss of our tokens, named in the discovery document.
	JWTIssuer string
	// JWKSMaxAge is how long caches may keep the JWKS. Optional; 0 with
	// Deps.Keys set means max-age=0.
	JWKSMaxAge time.Duration
	// PublicURL is the server's public base URL (PUBLIC_URL). Optional;
	// "": derived from each request.
	PublicURL string
}

// Deps are everything New needs, built by package app. Now and Logger are
// optional.
type Deps struct {
	// Auth runs logins, registrations, refreshes, logouts and revocations.
	Auth   *auth.Service
	Store  Store
	Tokens TokenVerifier
	// Settings are the HTTP layer's own settings.
	Settings Settings
	Logger   *slog.Logger
	Now      func() time.Time
	// ExpiredTokens signs the already-expired tokens of the development
	// "expire my access token" button: an Issuer on the same keys whose
	// clock runs behind. Optional, development only; nil: the button
	// answers 501.
	ExpiredTokens TokenIssuer
	// Readiness answers GET /readyz. Optional; nil: ready when the store
	// answers.
	Readiness Readiness

	// Keys are the published signing keys: their public halves are the
	// JWKS. Optional; nil (HS256) answers the JWKS with 404.
	Keys *tokens.Keyring

	// LabTokens and LabVerifier are the token lab's pair (tokens.NewLab):
	// tokens for tokens.LabAudience only, which no guard accepts.
	// Optional; nil: the lab's routes do not exist.
	LabTokens   TokenIssuer
	LabVerifier TokenVerifier
}

// handler carries the dependencies of every route.
type handler struct {
	auth      *auth.Service
	store     Store
	tokens    TokenVerifier
	expired   TokenIssuer // Deps.ExpiredTokens
	keys      *tokens.Keyring
	settings  Settings
	log       *slog.Logger
	now       func() time.Time
	readiness Readiness // Deps.Readiness
	// cookieNames are fixed by Settings.Production in New (CookieNames).
	cookieNames authCookieNames

	// labTokens and labVerifier: Deps.LabTokens, Deps.LabVerifier.
	labTokens   TokenIssuer
	labVerifier TokenVerifier

	// inspections keep the dashboard's token inspector per token.
	inspections *inspections
}
