package auth

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrBadCredentials is an unknown username or a wrong password: one
	// error for both, so nobody learns which usernames exist.
	ErrBadCredentials = errors.New("auth: bad credentials")
	// ErrBusy is no password hashing slot within the hashing wait; nothing
	// was counted against the caller.
	ErrBusy = errors.New("auth: no password hashing slot in time")
	// ErrUsernameTaken is a registration of an existing username.
	ErrUsernameTaken = errors.New("auth: username taken")
	// ErrThrottled matches every *ThrottledError.
	ErrThrottled = errors.New("auth: throttled")
	// ErrInvalidRefreshToken is a refresh token that is not even well formed.
	ErrInvalidRefreshToken = errors.New("auth: invalid refresh token")
	// ErrSessionExpired is a refresh token of an expired session, or one
	// no session knows.
	ErrSessionExpired = errors.New("auth: session expired")
	// ErrRefreshReused matches every *RefreshReusedError.
	ErrRefreshReused = errors.New("auth: refresh token reused")
	// ErrSessionRevoked matches every *SessionRevokedError.
	ErrSessionRevoked = errors.New("auth: session revoked")
	// ErrRateLimited matches every *RateLimitedError.
	ErrRateLimited = errors.New("auth: refresh rate limited")
)

// ThrottledError is a login or registration refused by the throttle before
// any check: the caller may try again after RetryAfter.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: throttled, retry after %v", e.RetryAfter)
}
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// RefreshReusedError is a rotated refresh token presented after the grace
// window: taken as theft, the session SessionID is now revoked.
type RefreshReusedError struct{ SessionID string }

func (e *RefreshReusedError) Error() string        { return "auth: refresh token reused; session revoked" }
func (e *RefreshReusedError) Is(target error) bool { return target == ErrRefreshReused }

// SessionRevokedError is a refresh of a revoked session; Reason is the
// store's event kind that ended it (store.EventReuseDetected, ...).
type SessionRevokedError struct{ SessionID, Reason string }

func (e *SessionRevokedError) Error() string {
	return "auth: session revoked (" + e.Reason + ")"
}
func (e *SessionRevokedError) Is(target error) bool { return target == ErrSessionRevoked }

// RateLimitedError is a session refreshing too often. The token is fine and
// stays current: try again after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
	SessionID  string
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("auth: refresh rate limited, retry after %v", e.RetryAfter)
}
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }
