package handlers

// Development tools: routes that exist only when APP_ENV is not production,
// so people can watch the refresh flow without waiting for a token to expire.

import (
	"net/http"
	"tokenflow/httpx"

	"github.com/labstack/echo/v4"
)

// expireAccess is POST /dev/expire-access (development only, behind the
// page guard): it swaps the access cookie for a token of the same user and
// session that has already expired, and sends the browser back to the
// dashboard. There the guard refuses the token as expired and answers with
// the refresh interstitial, which trades the refresh token for a new pair:
// the whole refresh flow, on demand. The refresh cookie is left alone.
// The dashboard's script asks for JSON instead: it gets the dashboard's
// state for the expired token (as GET /api/session would give), shows it
// in place, and the next API call refreshes without a reload.
func (h *handler) expireAccess(c echo.Context) error {
	if h.expired == nil {
		return echo.NewHTTPError(http.StatusNotImplemented, "This server has no issuer of expired tokens.")
	}
	cl := httpx.ClaimsFrom(c)
	sess := liveSessionFrom(c) // requireLiveSession: an ended session never gets here
	expired, expiredClaims, err := h.expired.Issue(cl.Subject, cl.Username, cl.SessionID)
	if err != nil {
		return err
	}
	h.setAccessCookie(c, expired, sess.ExpiresAt())
	if wantsJSON(c) {
		v, err := h.dashboardView(c.Request().Context(), &expiredClaims, expired)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, sessionStateOf(v))
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}
