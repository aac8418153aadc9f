package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"tokenflow/auth"
	"tokenflow/httpx"
	"tokenflow/views"
)

// sessions is GET /sessions: the caller's live sessions.
func (h *handler) sessions(c echo.Context) error {
	cl := httpx.ClaimsFrom(c)
	list, err := h.store.ActiveSessions(c.Request().Context(), cl.Subject)
	if err != nil {
		return err
	}
	v := views.SessionsView{Nav: views.Nav{Username: cl.Username}, Now: h.now()}
	for _, s := range list {
		v.Sessions = append(v.Sessions, views.SessionRow{
			ID: s.ID, Device: device(s.UserAgent), IP: s.IP,
			CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt(),
			Current: s.ID == cl.SessionID,
		})
	}
	return render(c, http.StatusOK, views.SessionsPage(v))
}

// revokeSession is POST /sessions/:id/revoke. Only the caller's own sessions
// can be revoked, from a session that is still live (auth checks it again
// in the transaction); revoking the current one is a logout.
func (h *handler) revokeSession(c echo.Context) error {
	cl := httpx.ClaimsFrom(c)
	id := c.Param("id")
	err := h.auth.RevokeSession(c.Request().Context(), cl.Subject, cl.SessionID, id, client(c))
	if errors.Is(err, auth.ErrNoSuchSession) {
		return noSuchSession()
	}
	if err != nil {
		return err
	}
	if id == cl.SessionID {
		h.clearAuthCookies(c)
		h.setNotice(c, noticeLogout)
		return c.Redirect(http.StatusSeeOther, "/auth/login")
	}
	return c.Redirect(http.StatusSeeOther, "/sessions")
}

// noSuchSession is the answer for a session that is not the caller's:
// unknown, another user's, or named by an ID no store makes, all alike.
func noSuchSession() error {
	return echo.NewHTTPError(http.StatusNotFound, "There is no such session of yours.")
}
