package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"time"
	"tokenflow/httpx"

	"github.com/labstack/echo/v4"

	"tokenflow/auth"
	"tokenflow/store"
	"tokenflow/views"
)

// refreshResponse is the JSON answer to a fetch. It never carries a token:
// those travel only in Set-Cookie.
type refreshResponse struct {
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// refresh is POST /auth/refresh: trade the refresh token for a new pair
// (auth.Service.Refresh), and say how it went. fetch callers (Accept: application/json) get JSON; a form post gets a 303
// to its local `next`.
func (h *handler) refresh(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	next := nextOr(form.Get("next"), "/dashboard")

	value, err := httpx.AuthCookie(c, h.cookieNames.refresh)
	if errors.Is(err, httpx.ErrConflictingCookies) {
		return h.refreshAmbiguous(c, next)
	}
	if err != nil || value == "" {
		return h.refreshFailed(c, next, "No refresh token: log in.", "")
	}
	res, err := h.auth.Refresh(c.Request().Context(), value, client(c))
	var (
		limited *auth.RateLimitedError
		reused  *auth.RefreshReusedError
		revoked *auth.SessionRevokedError
	)
	switch {
	case errors.As(err, &limited):
		// Not a failed refresh: the token is fine and stays current, so
		// the cookies stay and the client tries again later (app.js and
		// interstitial.js give up only on 401).
		wait := h.retryLater(c, "refresh rate limited", limited.RetryAfter, "session_id", limited.SessionID)
		return echo.NewHTTPError(http.StatusTooManyRequests,
			fmt.Sprintf("This session has refreshed too often. You are still logged in; try again in %d seconds.", wait))
	case errors.Is(err, auth.ErrInvalidRefreshToken):
		return h.refreshFailed(c, next, "The refresh token is not valid.", noticeExpired)
	case errors.As(err, &reused):
		h.log.Warn("refresh token reused after the grace window: session revoked",
			"session_id", reused.SessionID, "ip", c.RealIP())
		return h.refreshFailed(c, next, "This refresh token was already used; the session has been ended for your security.", noticeReuse)
	case errors.As(err, &revoked):
		if revoked.Reason == store.EventReuseDetected {
			return h.refreshFailed(c, next, "The session was ended for your security.", noticeReuse)
		}
		return h.refreshFailed(c, next, "The session has ended.", noticeExpired)
	case errors.Is(err, auth.ErrSessionExpired):
		return h.refreshFailed(c, next, "The session has ended.", noticeExpired)
	case err != nil:
		return err
	}

	h.setAuthCookies(c, res.AccessToken, res.RefreshToken, res.SessionExpiresAt())
	if wantsJSON(c) {
		return c.JSON(http.StatusOK, refreshResponse{
			AccessExpiresAt:  res.AccessExpiresAt().UTC(),
			RefreshExpiresAt: res.SessionExpiresAt().UTC(),
		})
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// refreshFailed clears both cookies and answers 401: JSON for fetch (the
// script then goes to the login page, where the notice cookie explains), or
// the login page itself for a form post.
func (h *handler) refreshFailed(c echo.Context, next, message, notice string) error {
	h.clearAuthCookies(c)
	if wantsJSON(c) {
		if notice != "" {
			h.setNotice(c, notice)
		}
		return c.JSON(http.StatusUnauthorized, apiError{Error: "invalid_grant", Message: message})
	}
	view := views.LoginView{Next: next, Notice: message}
	return render(c, http.StatusUnauthorized, views.LoginPage(view))
}
