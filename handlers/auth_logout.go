package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"tokenflow/store"
	"tokenflow/tokens"
)

// Logout scopes, as in Supabase Auth.
const (
	scopeLocal  = "local"  // this session
	scopeOthers = "others" // every other session of the user
	scopeGlobal = "global" // all sessions of the user
)

// logout is POST /auth/logout. It finds the caller's live session through
// the refresh cookie (or, failing that, a still-valid access cookie) and
// revokes what the scope says. The answer depends on the scope only, never
// on whether a live session was found: scope=others always keeps the
// cookies and goes to /sessions (which sends a caller without a live
// session on to the login page), local and global always clear the cookies.
// Otherwise a thief holding a copy of a refresh token could post
// scope=others to learn whether the copy is still current, and so when the
// owner has refreshed and a replay would land in the grace window.
func (h *handler) logout(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	scope := form.Get("scope")
	if scope == "" {
		scope = scopeLocal
	}
	if scope != scopeLocal && scope != scopeOthers && scope != scopeGlobal {
		return echo.NewHTTPError(http.StatusBadRequest, `scope must be "local", "others" or "global".`)
	}

	ctx := c.Request().Context()
	// A rotated refresh token presented after its grace window is theft
	// here as at /auth/refresh. The owner's browser sends one when a thief
	// refreshed first; if logout only deleted the cookie, the thief's chain
	// would live on and the evidence would be gone. It ends that session
	// only, never the user's others, and the answer below stays the same.
	if reused, err := h.store.DetectRefreshReuse(ctx, h.refreshHash(c), client(c)); errors.Is(err, store.ErrRefreshReused) {
		h.log.Warn("refresh token reused after the grace window, at logout: session revoked",
			"session_id", reused.ID, "ip", c.RealIP())
	} else if err != nil {
		return err
	}
	sess, ok, err := h.currentSession(c)
	if err != nil {
		return err
	}
	if ok {
		switch scope {
		case scopeLocal:
			err = h.store.RevokeSession(ctx, sess.UserID, sess.ID, store.EventLogout, client(c))
		case scopeOthers:
			_, err = h.store.RevokeUserSessions(ctx, sess.UserID, sess.ID, client(c))
		case scopeGlobal:
			if err = h.store.RevokeSession(ctx, sess.UserID, sess.ID, store.EventLogout, client(c)); err == nil {
				_, err = h.store.RevokeUserSessions(ctx, sess.UserID, "", client(c))
			}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if scope == scopeOthers {
		return c.Redirect(http.StatusSeeOther, "/sessions")
	}
	h.clearAuthCookies(c)
	h.setNotice(c, noticeLogout)
	return c.Redirect(http.StatusSeeOther, "/auth/login")
}

// currentSession identifies the caller's live session for logout: through
// the refresh cookie (it reaches /auth) when it is the session's current
// token, else through a valid access token. ok is false when neither names a
// session that is still alive: a rotated or revoked token identifies nobody,
// so a thief replaying an old token cannot end the owner's other sessions.
func (h *handler) currentSession(c echo.Context) (sess store.Session, ok bool, err error) {
	ctx := c.Request().Context()
	sess, err = h.store.SessionByRefreshHash(ctx, h.refreshHash(c))
	if err == nil {
		return sess, sess.Active(h.now()), nil
	}
	if !errors.Is(err, store.ErrRefreshUnknown) {
		return store.Session{}, false, err
	}
	cl := h.accessCookieClaims(c)
	if cl == nil {
		return store.Session{}, false, nil
	}
	return h.liveSession(ctx, cl)
}

// refreshHash is the hash of the refresh cookie, or "" when there is no
// well-formed, unambiguous one ("" matches no stored token).
func (h *handler) refreshHash(c echo.Context) string {
	value, err := authCookie(c, h.cookieNames.refresh)
	if err != nil {
		return ""
	}
	hash, err := tokens.HashRefreshToken(value)
	if err != nil {
		return ""
	}
	return hash
}
