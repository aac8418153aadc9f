// Package store keeps users, sessions, refresh tokens and session events.
//
// It knows nothing about HTTP or JWTs: callers hand it hashes of refresh
// tokens (never the tokens themselves) and read back plain structs. This
// package holds only the domain types, the sentinel errors and the Store
// interface; each backend is a subpackage (store/sqlite,
// store/postgres) held to the same behaviour by the contract suite in
// store/storetest. Handlers consume it through narrower interfaces.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Methods document which of them they return; callers
// compare with errors.Is.
var (
	ErrNotFound       = errors.New("store: not found")
	ErrUsernameTaken  = errors.New("store: username taken")
	ErrRefreshUnknown = errors.New("store: refresh token unknown")
)

// IDLength is the length of every user and session ID a store makes: 128
// random bits as base64url without padding (sqltables.NewID).
const IDLength = 22

// WellFormedID reports whether id has the shape of the IDs a store makes
// (IDLength characters of the base64url alphabet). One that has not names
// nothing in any store, so a caller with an ID from a request answers "no
// such" without a query, where PostgreSQL would refuse some (NUL, bytes
// that are not UTF-8) with an error rather than find nothing.
func WellFormedID(id string) bool {
	if len(id) != IDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// RevokedRetention is how long a revoked session is kept before
// DeleteExpired removes it, so "you were logged out because your refresh
// token was reused" can still be explained for a while.
const RevokedRetention = 24 * time.Hour

// MaxEventsPerSession bounds a session's timeline: a session refreshed
// every few minutes for a month would otherwise keep thousands of rows. 100
// is twice what the dashboard shows. Past it, the oldest events go, except
// the login event: the only record of where and how the session began.
const MaxEventsPerSession = 100

// User is an account. PasswordHash is a PHC string (argon2id).
type User struct {
	ID           string
	Username     string
	PasswordHash string
	CreatedAt    time.Time
}

// Session is one login on one device. Its ID is the `sid` claim of every
// access token issued for it.
type Session struct {
	ID                string
	UserID            string
	CreatedAt         time.Time
	LastUsedAt        time.Time
	IdleExpiresAt     time.Time // slides forward on each refresh (REFRESH_TOKEN_TTL)
	AbsoluteExpiresAt time.Time // never moves (SESSION_MAX_AGE)
	UserAgent         string
	IP                string
	RevokedAt         time.Time // zero while the session is alive
	RevokeReason      string    // one of the Event kinds that revoke: logout, revoked, reuse_detected, evicted
}

// ExpiresAt is when the session ends if nobody refreshes it: the earlier of
// the idle and the absolute expiry.
func (s Session) ExpiresAt() time.Time {
	if s.AbsoluteExpiresAt.Before(s.IdleExpiresAt) {
		return s.AbsoluteExpiresAt
	}
	return s.IdleExpiresAt
}

// Revoked reports whether the session was ended on purpose.
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// Active reports whether the session can still be refreshed at now.
func (s Session) Active(now time.Time) bool {
	return !s.Revoked() && now.Before(s.ExpiresAt())
}

// Event kinds recorded in the session timeline.
const (
	EventLogin         = "login"          // session created by login or registration
	EventRefresh       = "refresh"        // refresh token rotated
	EventRefreshGrace  = "refresh_grace"  // a just-rotated token was presented again within the grace window
	EventReuseDetected = "reuse_detected" // a rotated token came back after the grace window: session revoked
	EventLogout        = "logout"         // the user logged out of this session
	EventRevoked       = "revoked"        // ended from another session (sessions page, logout scope others/global)
	EventEvicted       = "evicted"        // ended by a newer login of the account past its cap of live sessions
)

// Event is one line of a session's timeline.
type Event struct {
	ID        int64
	SessionID string
	UserID    string
	Kind      string
	At        time.Time
	IP        string
	UserAgent string
	Detail    string
}

// Client describes who made a request, for session rows and events.
type Client struct {
	IP        string
	UserAgent string
}

// NewSession is what CreateSession needs.
type NewSession struct {
	UserID      string
	RefreshHash string        // hash of the first refresh token (tokens.HashRefreshToken)
	IdleTTL     time.Duration // REFRESH_TOKEN_TTL
	MaxAge      time.Duration // SESSION_MAX_AGE
	Client      Client
}

// RefreshToken is one stored refresh token. Only its hash is kept.
type RefreshToken struct {
	ID        int64 // the store's key, for the Tx methods that name a token
	SessionID string
	Hash      string
	CreatedAt time.Time
	// UsedAt is when the token was rotated or retired; zero while it is
	// current.
	UsedAt time.Time
	// GraceUntil is a deadline the rotation policy recorded on the token
	// (auth keeps the rule); zero when none was.
	GraceUntil time.Time
}

// Used reports whether the token was rotated or retired.
func (t RefreshToken) Used() bool { return !t.UsedAt.IsZero() }

// Tx is a store transaction, handed to the function given to Store.InTx.
// Its methods are primitives: each reads or writes one thing and decides
// nothing, so a policy (auth's refresh rotation) is written once above
// every backend. A Tx is used by one goroutine, only inside that function,
// and never together with the Store's own methods (SQLite would wait for
// its own write lock).
type Tx interface {
	// Now is the store's clock, read once when the transaction began and
	// held its lock, at the precision the store keeps: the times that
	// successive transactions write never go backwards, and a time that
	// goes in comes back out equal.
	Now() time.Time

	// TokenForUpdate returns the refresh token with the hash, used or not,
	// with its session and the session's user, and locks the session: every
	// other transaction asking for any token of it waits until this one
	// ends, so two branches of one session (a grace sibling and its
	// successor) never rotate at once (PostgreSQL: FOR UPDATE of the
	// session row, not only the token's). ErrRefreshUnknown when no token
	// has the hash.
	TokenForUpdate(ctx context.Context, hash string) (RefreshToken, Session, User, error)
	// InsertRefreshToken adds a current token to the session, created at
	// Now, with graceUntil recorded (zero: none), and returns its ID. An
	// empty or already stored hash is an error.
	InsertRefreshToken(ctx context.Context, sessionID, hash string, graceUntil time.Time) (int64, error)
	// MarkRefreshTokenUsed records that token id was used at usedAt,
	// replaced by the token replacedBy, and may be forgiven until
	// graceUntil.
	MarkRefreshTokenUsed(ctx context.Context, id, replacedBy int64, usedAt, graceUntil time.Time) error
	// CapLiveTokenGrace lowers the recorded deadline of every current token
	// of the session to deadline, keeping any that is earlier already.
	CapLiveTokenGrace(ctx context.Context, sessionID string, deadline time.Time) error
	// RetireLiveTokens marks every current token of the session but keepID
	// used at usedAt, keeping the deadlines they carry.
	RetireLiveTokens(ctx context.Context, sessionID string, keepID int64, usedAt time.Time) error
	// SetSessionUse writes sess's LastUsedAt, IdleExpiresAt, IP and
	// UserAgent to the session sess.ID.
	SetSessionUse(ctx context.Context, sess Session) error
	// RevokeSessionAndTokens ends the session at revokedAt for reason (an
	// Event kind) and marks every current token of it used then.
	RevokeSessionAndTokens(ctx context.Context, sessionID, reason string, revokedAt time.Time) error
	// SessionForUpdate returns the session with the ID, whatever its
	// state, and locks it as TokenForUpdate does (PostgreSQL: FOR UPDATE
	// of the session row), so a revocation never lands in the middle of a
	// rotation. ErrNotFound when there is no such session.
	SessionForUpdate(ctx context.Context, sessionID string) (Session, error)
	// RevokeSession ends the session at revokedAt for reason (an Event
	// kind) and leaves its tokens as they are: a refresh with its current
	// token then reads as a revoked session, not as reuse.
	RevokeSession(ctx context.Context, sessionID, reason string, revokedAt time.Time) error
	// LiveSessionsForUpdate locks the user userID as CreateSession does
	// (every other transaction creating or revoking sessions of that user
	// waits until this one ends) and returns the user's sessions that are
	// neither revoked nor expired at Now, each locked, in LiveSessions'
	// order. None, and no error, when the user does not exist.
	LiveSessionsForUpdate(ctx context.Context, userID string) ([]Session, error)
	// EventTimesSince returns when the session's events of the kinds
	// happened after since, newest first, at most max of them.
	EventTimesSince(ctx context.Context, sessionID string, kinds []string, since time.Time, max int) ([]time.Time, error)
	// CreateSession locks the user ns.UserID (every other transaction
	// creating a session for that user waits until this one ends;
	// PostgreSQL: FOR NO KEY UPDATE of the user row) and then starts a
	// session created at Now: the session row, its first refresh token and
	// a login event. The idle expiry is Now+IdleTTL, never later than the
	// absolute expiry Now+MaxAge. ErrNotFound when the user does not exist.
	CreateSession(ctx context.Context, ns NewSession) (Session, error)
	// LiveSessions lists the user's sessions that are neither revoked nor
	// expired at Now, most recently used first (ties: newest created, then
	// the greatest ID first).
	LiveSessions(ctx context.Context, userID string) ([]Session, error)
	// InsertEvent records e (its ID is ignored) and drops the session's
	// oldest events beyond MaxEventsPerSession, never its login event.
	InsertEvent(ctx context.Context, e Event) error
}

// Store is the full method set of a store implementation. sqlite.Store
// and postgres.Store implement it; handlers depend on
// narrower interfaces of their own. The comment above each method names the
// sentinel errors it can return; store/internal/sqltables and each backend
// write out the full contract, and store/storetest holds both to it.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	// ErrUsernameTaken.
	CreateUser(ctx context.Context, username, passwordHash string) (User, error)
	// ErrNotFound.
	UserByUsername(ctx context.Context, username string) (User, error)
	// ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)

	// InTx runs fn in one transaction (SQLite: BEGIN IMMEDIATE, so every
	// transaction holds the write lock; PostgreSQL: TokenForUpdate is
	// SELECT … FOR UPDATE). When fn returns nil the transaction commits; when
	// it returns an error or panics, nothing fn wrote is kept and InTx
	// returns that error as it is (or panics on). A failed commit is an
	// error of InTx's own.
	InTx(ctx context.Context, fn func(Tx) error) error

	// ErrNotFound (no such user).
	CreateSession(ctx context.Context, ns NewSession) (Session, error)
	// ErrRefreshUnknown.
	SessionByRefreshHash(ctx context.Context, hash string) (Session, error)
	// ErrNotFound.
	Session(ctx context.Context, id string) (Session, error)
	// No sentinel errors.
	ActiveSessions(ctx context.Context, userID string) ([]Session, error)
	// No sentinel errors.
	SessionEvents(ctx context.Context, sessionID string, limit int) ([]Event, error)
	// SessionTimeline is Session and SessionEvents (newest first, at most
	// limit; limit <= 0: all) read in one statement, for the dashboard.
	// ErrNotFound when there is no such session.
	SessionTimeline(ctx context.Context, id string, limit int) (Session, []Event, error)
	// No sentinel errors.
	DeleteExpired(ctx context.Context, batch int) (int, error)

	// No sentinel errors.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// ErrNotFound (an update or delete names no key), ErrKeyConflict, or
	// the plan's own error (wrapped); nothing is changed on any error.
	ChangeSigningKeys(ctx context.Context, plan SigningKeyPlan) error
}

// ErrKeyConflict is a signing-key change that would leave two keys with
// one kid, or two current keys.
var ErrKeyConflict = errors.New("store: signing key conflict")

// Signing-key states, in the order a key goes through them.
const (
	KeyNext     = "next"     // published, not signing yet
	KeyCurrent  = "current"  // signs new tokens; at most one
	KeyPrevious = "previous" // published until its last token has expired
)

// SigningKey is one asymmetric signing key as kept in the store. The
// private half arrives sealed; the store never sees it in the clear.
type SigningKey struct {
	Kid              string
	Alg              string
	State            string // KeyNext, KeyCurrent or KeyPrevious
	PublicKey        []byte // PKIX DER
	SealedPrivateKey []byte
	CreatedAt        time.Time
	// ActivatesAt is, for a next key, the earliest it may sign; for a
	// current or previous key, when it began signing.
	ActivatesAt time.Time
	// ExpiresAt is, for a previous key, when it is deleted (its last token
	// has expired); zero otherwise.
	ExpiresAt time.Time
}

// SigningKeyChanges is what a SigningKeyPlan decides. Updates change
// State, ActivatesAt and ExpiresAt of the key with that Kid.
type SigningKeyChanges struct {
	Insert []SigningKey
	Update []SigningKey
	Delete []string // kids
}

// SigningKeyPlan decides changes from the keys as they are, read inside
// the transaction that applies them: two instances planning at once
// queue up, and the second plans from the first one's result. It must be
// quick and must not use the store.
type SigningKeyPlan func(keys []SigningKey) (SigningKeyChanges, error)

// ErrUnavailable is wrapped by errors the backend classified as the
// database being out of service rather than a bug: a full disk, a read-only
// file, an I/O error, a lock held past the busy timeout, a lost connection.
// The transaction has rolled back; the same request can succeed once the
// fault clears, so the HTTP layer answers 503 with Retry-After.
var ErrUnavailable = errors.New("store: database unavailable")
