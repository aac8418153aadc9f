package auth

import (
	"context"
	"errors"

	"tokenflow/store"
	"tokenflow/tokens"
)

// Scope is what a logout ends, as in Supabase Auth.
type Scope string

const (
	ScopeLocal  Scope = "local"  // this session
	ScopeOthers Scope = "others" // every other session of the user
	ScopeGlobal Scope = "global" // all sessions of the user
)

// ErrNoSuchSession is a revocation of a session that is not the caller's
// (or does not exist): one error for both.
var ErrNoSuchSession = errors.New("auth: no such session")

// CurrentSession identifies the caller's live session: through the
// presented refresh token when it is the session's current one, else
// through the claims of a valid access token (nil: none). ok is false when
// neither names a session that is still alive: a rotated or revoked token
// identifies nobody, so a thief replaying an old token cannot end the
// owner's other sessions.
func (s *Service) CurrentSession(ctx context.Context, presentedRefresh string, access *tokens.Claims) (sess store.Session, ok bool, err error) {
	// A malformed token matches no stored one: "" is looked up and missed.
	hash, herr := tokens.HashRefreshToken(presentedRefresh)
	if herr != nil {
		hash = ""
	}
	sess, err = s.store.SessionByRefreshHash(ctx, hash)
	if err == nil {
		return sess, sess.Active(s.now()), nil
	}
	if !errors.Is(err, store.ErrRefreshUnknown) {
		return store.Session{}, false, err
	}
	if access == nil {
		return store.Session{}, false, nil
	}
	return s.LiveSession(ctx, access)
}

// LiveSession finds the session a verified access token names and reports
// whether it is live: neither logged out, revoked nor expired, and the
// token's user's. It is the one definition of "live" for an access token:
// the routes that change state (or show what the store knows about a
// session) ask it; pure-token reads do not.
func (s *Service) LiveSession(ctx context.Context, access *tokens.Claims) (store.Session, bool, error) {
	sess, err := s.store.Session(ctx, access.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, false, nil
	case err != nil:
		return store.Session{}, false, err
	}
	return sess, s.live(sess, access), nil
}

// LiveSessionTimeline is LiveSession with the session's newest events (at
// most limit), read together for the dashboard. The events come back only
// when the session is live: an ended session's timeline holds the address
// and device of whoever ended it, which a copied token must not learn.
func (s *Service) LiveSessionTimeline(ctx context.Context, access *tokens.Claims, limit int) (store.Session, []store.Event, bool, error) {
	sess, events, err := s.store.SessionTimeline(ctx, access.SessionID, limit)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, nil, false, nil
	case err != nil:
		return store.Session{}, nil, false, err
	}
	if !s.live(sess, access) {
		return sess, nil, false, nil
	}
	return sess, events, true, nil
}

// live is the rule: the token's user's session, neither logged out,
// revoked nor expired.
func (s *Service) live(sess store.Session, access *tokens.Claims) bool {
	return sess.UserID == access.Subject && sess.Active(s.now())
}

// DetectReuse applies the reuse rule to a refresh token presented where it
// is not rotated (logout). The owner's browser sends a rotated token when a
// thief refreshed first; if logout only deleted the cookie, the thief's
// chain would live on and the evidence would be gone. A rotated token past
// its grace deadline ends its own session (never the user's others) and
// comes back as a *RefreshReusedError; anything else changes nothing and
// returns nil. The rule is refresh's own (judge, rotation.go).
func (s *Service) DetectReuse(ctx context.Context, presentedRefresh string, client store.Client) error {
	hash, err := tokens.HashRefreshToken(presentedRefresh)
	if err != nil {
		return nil // malformed or absent: names no token
	}
	err = s.detectReuse(ctx, hash, client)
	var reused *RefreshReusedError
	if errors.As(err, &reused) {
		s.observer.SessionsRevoked(store.EventReuseDetected, 1)
	}
	return err
}

// Logout revokes what scope says around sess (from CurrentSession). A
// session that ended meanwhile is no error, and ends nothing more: with
// scope=global, ending its own session finds it ended already and stops
// there; with scope=others, the check under the user's lock finds it no
// longer live (revokeUserSessions).
func (s *Service) Logout(ctx context.Context, sess store.Session, scope Scope, client store.Client) error {
	var err error
	ended, others := 0, 0 // sess itself; the sessions revokeUserSessions ended
	switch scope {
	case ScopeLocal:
		ended, err = s.revokeSession(ctx, sess.UserID, sess.ID, sess.ID, store.EventLogout, client)
	case ScopeOthers:
		others, err = s.revokeUserSessions(ctx, sess.UserID, sess.ID, client)
	case ScopeGlobal:
		if ended, err = s.revokeSession(ctx, sess.UserID, sess.ID, sess.ID, store.EventLogout, client); err == nil && ended > 0 {
			others, err = s.revokeUserSessions(ctx, sess.UserID, "", client)
		}
	default:
		return errors.New("auth: unknown logout scope " + string(scope))
	}
	s.observeRevoked(nil, store.EventLogout, ended)
	s.observeRevoked(nil, store.EventRevoked, others)
	if errors.Is(err, ErrNoSuchSession) {
		return nil
	}
	return err
}
