package auth

import (
	"errors"

	"tokenflow/store"
)

// Observer is told how each login and refresh ended and which sessions
// were revoked, for metrics. It must be quick and safe for concurrent use;
// it never sees a token, a password or a username. The metrics package
// implements it, so auth needs no metrics library.
type Observer interface {
	LoginFinished(outcome LoginOutcome)
	RefreshFinished(outcome RefreshOutcome)
	// SessionsRevoked counts n sessions ended for reason, one of the store's
	// revoking event kinds (store.EventLogout, EventRevoked,
	// EventReuseDetected, EventEvicted), once the revocation committed.
	SessionsRevoked(reason string, n int)
}

// LoginOutcome is how a login (or registration) ended.
type LoginOutcome string

// Login outcomes: a small fixed set, so a metric label stays bounded.
const (
	LoginOK        LoginOutcome = "ok"
	LoginFailed    LoginOutcome = "failed"    // ErrBadCredentials
	LoginThrottled LoginOutcome = "throttled" // *ThrottledError
	LoginBusy      LoginOutcome = "busy"      // ErrBusy
	LoginError     LoginOutcome = "error"     // the client left, or a store or signing error
)

// RefreshOutcome is how a refresh ended.
type RefreshOutcome string

// Refresh outcomes.
const (
	RefreshOK          RefreshOutcome = "ok"
	RefreshGrace       RefreshOutcome = "grace"        // Result.Grace: a rotated token forgiven inside the grace window
	RefreshReused      RefreshOutcome = "reused"       // *RefreshReusedError: the session is revoked now
	RefreshRateLimited RefreshOutcome = "rate_limited" // *RateLimitedError
	RefreshRevoked     RefreshOutcome = "revoked"      // *SessionRevokedError
	RefreshExpired     RefreshOutcome = "expired"      // ErrSessionExpired
	RefreshInvalid     RefreshOutcome = "invalid"      // ErrInvalidRefreshToken
	RefreshError       RefreshOutcome = "error"
)

// LoginOutcomes, RefreshOutcomes and RevokeReasons list every value the
// Observer is told, so a counter can start each at zero.
var (
	LoginOutcomes   = []LoginOutcome{LoginOK, LoginFailed, LoginThrottled, LoginBusy, LoginError}
	RefreshOutcomes = []RefreshOutcome{RefreshOK, RefreshGrace, RefreshReused, RefreshRateLimited,
		RefreshRevoked, RefreshExpired, RefreshInvalid, RefreshError}
	RevokeReasons = []string{store.EventLogout, store.EventRevoked, store.EventReuseDetected, store.EventEvicted}
)

// LoginOutcomeOf classifies Login's (or Register's) error.
func LoginOutcomeOf(err error) LoginOutcome {
	return outcomeOf(err, LoginOK, LoginError, []outcomeFor[LoginOutcome]{
		{ErrBadCredentials, LoginFailed},
		{ErrThrottled, LoginThrottled},
		{ErrBusy, LoginBusy},
	})
}

// RefreshOutcomeOf classifies what Refresh returned.
func RefreshOutcomeOf(r Result, err error) RefreshOutcome {
	if err == nil && r.Grace {
		return RefreshGrace
	}
	return outcomeOf(err, RefreshOK, RefreshError, []outcomeFor[RefreshOutcome]{
		{ErrRefreshReused, RefreshReused},
		{ErrRateLimited, RefreshRateLimited},
		{ErrSessionRevoked, RefreshRevoked},
		{ErrSessionExpired, RefreshExpired},
		{ErrInvalidRefreshToken, RefreshInvalid},
	})
}

// outcomeFor is the outcome of an error that matches err (errors.Is).
type outcomeFor[O any] struct {
	err     error
	outcome O
}

// outcomeOf is ok for no error, the first outcome in table that err
// matches, else other.
func outcomeOf[O any](err error, ok, other O, table []outcomeFor[O]) O {
	if err == nil {
		return ok
	}
	for _, t := range table {
		if errors.Is(err, t.err) {
			return t.outcome
		}
	}
	return other
}

// noObserver is the Observer of a Service built without one.
type noObserver struct{}

func (noObserver) LoginFinished(LoginOutcome)     {}
func (noObserver) RefreshFinished(RefreshOutcome) {}
func (noObserver) SessionsRevoked(string, int)    {}

// observeLogin tells the Observer how a login ended.
func (s *Service) observeLogin(err error) { s.observer.LoginFinished(LoginOutcomeOf(err)) }

// observeRefresh tells the Observer how a refresh ended, and counts the
// session a detected reuse revoked.
func (s *Service) observeRefresh(r Result, err error) {
	outcome := RefreshOutcomeOf(r, err)
	s.observer.RefreshFinished(outcome)
	if outcome == RefreshReused {
		s.observer.SessionsRevoked(store.EventReuseDetected, 1)
	}
}
