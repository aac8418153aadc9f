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

// logout is POST /auth/logout. It finds the caller's session through the
// refresh cookie (or, failing that, a still-valid access cookie), revokes
// what the scope says, and clears the cookies unless only the other
// sessions were ended. With no session it still clears the cookies.
func (h *handler) logout(c echo.Context) error {
	noStore(c)
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
	userID, sessionID, err := h.currentSession(c)
	if err != nil {
		return err
	}
	if userID != "" {
		switch scope {
		case scopeLocal:
			err = h.store.RevokeSession(ctx, userID, sessionID, store.EventLogout, client(c))
		case scopeOthers:
			_, err = h.store.RevokeUserSessions(ctx, userID, sessionID, client(c))
		case scopeGlobal:
			if err = h.store.RevokeSession(ctx, userID, sessionID, store.EventLogout, client(c)); err == nil {
				_, err = h.store.RevokeUserSessions(ctx, userID, "", client(c))
			}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if scope == scopeOthers && userID != "" {
		return c.Redirect(http.StatusSeeOther, "/sessions")
	}
	h.clearAuthCookies(c)
	h.setNotice(c, noticeLogout)
	return c.Redirect(http.StatusSeeOther, "/auth/login")
}

// currentSession identifies the caller's session for logout: the refresh
// cookie first (it reaches /auth), else a valid access token. Empty strings
// when neither works.
func (h *handler) currentSession(c echo.Context) (userID, sessionID string, err error) {
	if ck, cerr := c.Cookie(RefreshCookie); cerr == nil {
		if hash, herr := tokens.HashRefreshToken(ck.Value); herr == nil {
			sess, serr := h.store.SessionByRefreshHash(c.Request().Context(), hash)
			switch {
			case serr == nil:
				return sess.UserID, sess.ID, nil
			case !errors.Is(serr, store.ErrRefreshUnknown):
				return "", "", serr
			}
		}
	}
	if ck, cerr := c.Cookie(AccessCookie); cerr == nil && jwtShaped(ck.Value) {
		if claims, verr := h.tokens.Verify(ck.Value); verr == nil {
			return claims.Subject, claims.SessionID, nil
		}
	}
	return "", "", nil
}
