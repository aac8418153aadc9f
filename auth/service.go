// Package auth is the session service: login, registration, refresh,
// logout and revocation, with their throttling, password checks, session creation and token
// issuing, behind plain inputs, a Result, and typed errors. It knows
// nothing of HTTP: the handlers decide where the tokens travel and how an
// error reads.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tokenflow/store"
	"tokenflow/throttle"
	"tokenflow/tokens"
)

// MaxHashWait bounds how long a login or registration waits for a password
// hashing slot. The hasher runs a few argon2 computations at a time and
// queues the rest; the server sets no handler deadline, so without this
// bound a flood of requests would pile up waiting goroutines and delay real
// logins without limit. Past it the answer is ErrBusy, and the queue stays
// about as long as the hasher clears in five seconds.
const MaxHashWait = 5 * time.Second

// Store is what the service needs from persistence (store/sqlite); the
// errors are the store package's sentinels.
type Store interface {
	CreateUser(ctx context.Context, username, passwordHash string) (store.User, error)
	UserByUsername(ctx context.Context, username string) (store.User, error)
	// InTx runs the rotation policy (rotation.go), the session cap
	// (sessions.go) and revocation (revoke.go) on the store's primitives.
	InTx(ctx context.Context, fn func(store.Tx) error) error
	SessionByRefreshHash(ctx context.Context, hash string) (store.Session, error)
	Session(ctx context.Context, id string) (store.Session, error)
	// SessionTimeline is Session with its newest events, in one read
	// (LiveSessionTimeline).
	SessionTimeline(ctx context.Context, id string, limit int) (store.Session, []store.Event, error)
}

// Issuer signs access tokens (tokens.Manager).
type Issuer interface {
	Issue(userID, username, sessionID string) (string, tokens.Claims, error)
}

// Passwords hashes and checks passwords (password.Hasher).
type Passwords interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyDummy(ctx context.Context, password string)
}

// Config are the lifetimes and limits of sessions.
type Config struct {
	// RefreshTokenTTL is the idle lifetime of a session; each refresh slides it.
	RefreshTokenTTL time.Duration
	// SessionMaxAge caps a session however often it is refreshed.
	SessionMaxAge time.Duration
	// RefreshReuseGrace is how long a rotated refresh token may come back
	// (two tabs, a lost response) before it counts as theft.
	RefreshReuseGrace time.Duration
	// RefreshRateLimit is the number of refreshes per session per
	// RefreshRateLimitWindow; zero: no limit.
	RefreshRateLimit int
	// MaxSessionsPerUser is the number of live sessions of an account; a
	// login past it ends the least recently used.
	MaxSessionsPerUser int
	// HashWait replaces MaxHashWait (tests). Optional.
	HashWait time.Duration
}

// Deps are everything NewService needs. Now is optional.
type Deps struct {
	Store     Store
	Issuer    Issuer
	Passwords Passwords
	Throttle  *throttle.Throttle
	Config    Config
	Now       func() time.Time
	// Observer is told the outcomes, for metrics. Optional.
	Observer Observer
}

// Service runs logins, registrations and refreshes.
type Service struct {
	store     Store
	issuer    Issuer
	passwords Passwords
	throttle  *throttle.Throttle
	cfg       Config
	now       func() time.Time
	observer  Observer
}

// NewService returns a Service over d.
func NewService(d Deps) *Service {
	s := &Service{store: d.Store, issuer: d.Issuer, passwords: d.Passwords, throttle: d.Throttle, cfg: d.Config, now: d.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.observer = d.Observer; s.observer == nil {
		s.observer = noObserver{}
	}
	if s.cfg.HashWait <= 0 {
		s.cfg.HashWait = MaxHashWait
	}
	return s
}

// Result is a session with a fresh pair of tokens.
type Result struct {
	// AccessToken is the signed JWT; Claims are what it says.
	AccessToken string
	Claims      tokens.Claims
	// RefreshToken is the new opaque refresh token (only its hash is stored).
	RefreshToken string
	Session      store.Session
	// Grace is set on a refresh whose token had been rotated already and
	// was forgiven inside the grace window (the rotation policy's fork,
	// rotation.go): two tabs at once, or a lost response.
	Grace bool
}

// AccessExpiresAt is when the access token expires.
func (r Result) AccessExpiresAt() time.Time { return r.Claims.ExpiresAt.Time }

// SessionExpiresAt is when the session (and its refresh token) expires.
func (r Result) SessionExpiresAt() time.Time { return r.Session.ExpiresAt() }

// HashWait is how long a login or registration waits for a password
// hashing slot (MaxHashWait unless Config.HashWait says otherwise).
func (s *Service) HashWait() time.Duration { return s.cfg.HashWait }

// hashing returns the context a password hash or check runs under: the
// caller's, bounded by the hashing wait.
func (s *Service) hashing(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.HashWait)
}

// busyOr is ErrBusy when err is the hashing wait running out (as opposed to
// the caller going away, context.Canceled, which is returned as it is).
func busyOr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrBusy
	}
	if errors.Is(err, throttle.ErrUnavailable) {
		// Fail closed: without its counters the throttle checks nothing
		// (see throttle.ErrUnavailable); to the client it is a busy server.
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// Login checks the password and starts a session. Errors: *ThrottledError,
// ErrBusy, ErrBadCredentials (unknown user and wrong password alike), the
// context's error, or a store or signing error.
func (s *Service) Login(ctx context.Context, username, password string, client store.Client) (_ Result, err error) {
	defer func() { s.observeLogin(err) }()
	// The throttle comes before any lookup or hashing, so a throttled guess
	// costs us nothing and tells nothing (unknown accounts are counted too).
	// Its wait for attempts in flight shares the hashing wait's bound.
	hashCtx, cancel := s.hashing(ctx)
	defer cancel()
	attempt, wait, err := s.throttle.BeginLogin(hashCtx, username, client.IP, s.now)
	if err != nil {
		return Result{}, busyOr(err)
	}
	if wait > 0 {
		return Result{}, &ThrottledError{RetryAfter: wait}
	}
	// Whatever way the check ends without saying otherwise, it failed.
	defer attempt.Failed()

	user, err := s.store.UserByUsername(ctx, username)
	known := err == nil
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	} else if err != nil {
		attempt.Aborted()
		return Result{}, err
	}
	ok := false
	if known {
		ok, err = s.passwords.Verify(hashCtx, password, user.PasswordHash)
	} else {
		// Spend the same time as a real check, so timing does not reveal
		// whether the account exists.
		s.passwords.VerifyDummy(hashCtx, password)
	}
	if err == nil {
		// VerifyDummy reports nothing, so ask the context; and ask it after
		// a real check too, so both paths answer the same when the wait
		// ran out or the client left (a result that came just too late is
		// dropped either way).
		err = hashCtx.Err()
	}
	if err != nil {
		// The check did not happen (or we do not act on it): not the
		// caller's failure.
		attempt.Aborted()
		return Result{}, busyOr(err)
	}
	if !known || !ok {
		attempt.Failed()
		return Result{}, ErrBadCredentials
	}
	attempt.Succeeded()
	return s.startSession(ctx, user, client)
}

// Register creates the user and starts a session. The caller has checked
// the username and password against the policy (password.Check). Errors:
// *ThrottledError, ErrBusy, ErrUsernameTaken, the context's error, or a
// store or signing error.
func (s *Service) Register(ctx context.Context, username, password string, client store.Client) (Result, error) {
	// Counted once the input is valid: that is where the argon2 work and a
	// new row begin.
	wait, err := s.throttle.AllowRegistration(ctx, client.IP, s.now())
	if err != nil {
		return Result{}, busyOr(err)
	}
	if wait > 0 {
		return Result{}, &ThrottledError{RetryAfter: wait}
	}
	hashCtx, cancel := s.hashing(ctx)
	defer cancel()
	hash, err := s.passwords.Hash(hashCtx, password)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// Nothing was hashed or created: the attempt does not count.
			s.throttle.RegistrationAborted(context.WithoutCancel(ctx), client.IP)
		}
		return Result{}, busyOr(err)
	}
	user, err := s.store.CreateUser(ctx, username, hash)
	if errors.Is(err, store.ErrUsernameTaken) {
		return Result{}, ErrUsernameTaken
	}
	if err != nil {
		return Result{}, err
	}
	return s.startSession(ctx, user, client)
}

// startSession creates a session with its first refresh token, under the
// cap on live sessions (sessions.go), and signs an access token for it.
func (s *Service) startSession(ctx context.Context, user store.User, client store.Client) (Result, error) {
	refresh, refreshHash, err := tokens.NewRefreshToken()
	if err != nil {
		return Result{}, err
	}
	ns := store.NewSession{
		UserID:      user.ID,
		RefreshHash: refreshHash,
		IdleTTL:     s.cfg.RefreshTokenTTL,
		MaxAge:      s.cfg.SessionMaxAge,
		Client:      client,
	}
	var (
		sess    store.Session
		evicted int
	)
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		var err error
		sess, evicted, err = createCappedSession(ctx, tx, ns, s.cfg.MaxSessionsPerUser)
		return err
	})
	s.observeRevoked(err, store.EventEvicted, evicted)
	if err != nil {
		return Result{}, err
	}
	access, claims, err := s.issuer.Issue(user.ID, user.Username, sess.ID)
	if err != nil {
		return Result{}, err
	}
	return Result{AccessToken: access, Claims: claims, RefreshToken: refresh, Session: sess}, nil
}

// Refresh trades a refresh token for a new pair, by the rotation policy
// (rotation.go) in one store transaction; the access token is signed inside
// that same transaction, so a refresh either hands out the new pair or
// changes nothing: a client must never be left holding a token the store
// has already retired. Errors: ErrInvalidRefreshToken (malformed),
// ErrSessionExpired (expired or unknown), *RefreshReusedError (the session
// is now revoked), *SessionRevokedError, *RateLimitedError (the token stays
// current), or a store or signing error.
func (s *Service) Refresh(ctx context.Context, presented string, client store.Client) (res Result, err error) {
	defer func() { s.observeRefresh(res, err) }()
	presentedHash, err := tokens.HashRefreshToken(presented)
	if err != nil {
		return Result{}, ErrInvalidRefreshToken
	}
	fresh, freshHash, err := tokens.NewRefreshToken()
	if err != nil {
		return Result{}, err
	}
	r, err := s.rotate(ctx, presentedHash, freshHash, client)
	if errors.Is(err, store.ErrRefreshUnknown) {
		return Result{}, ErrSessionExpired
	}
	if err != nil {
		return Result{}, err
	}
	return Result{AccessToken: r.access, Claims: r.claims, RefreshToken: fresh, Session: r.session, Grace: r.grace}, nil
}
