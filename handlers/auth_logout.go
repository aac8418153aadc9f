package handlers

import (
	"errors"
	"net/http"
	"tokenflow/httpx"

	"github.com/labstack/echo/v4"

	"tokenflow/auth"
)

// Logout scopes, named as the form sends them.
const (
	scopeLocal  = string(auth.ScopeLocal)
	scopeOthers = string(auth.ScopeOthers)
	scopeGlobal = string(auth.ScopeGlobal)
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
	presented, _ := httpx.AuthCookie(c, h.cookieNames.refresh) // ambiguous or absent: "", which names nobody
	var reused *auth.RefreshReusedError
	if err := h.auth.DetectReuse(ctx, presented, client(c)); errors.As(err, &reused) {
		h.log.Warn("refresh token reused after the grace window, at logout: session revoked",
			"session_id", reused.SessionID, "ip", c.RealIP())
	} else if err != nil {
		return err
	}
	sess, ok, err := h.auth.CurrentSession(ctx, presented, h.accessCookieClaims(c))
	if err != nil {
		return err
	}
	if ok {
		if err := h.auth.Logout(ctx, sess, auth.Scope(scope), client(c)); err != nil {
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
