package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"tokenflow/store"
	"tokenflow/tokens"
	"tokenflow/views"
)

// loginFailed is the one message for an unknown user and a wrong password,
// so the form does not tell an attacker which usernames exist.
const loginFailed = "The username or password is not right."

// loginThrottled is the one message for every throttled login: the same for
// a locked account, a busy address, and a username that does not exist.
const loginThrottled = "Too many failed attempts. Please wait a few minutes, then try again."

// loginForm is GET /auth/login.
func (h *handler) loginForm(c echo.Context) error {
	return render(c, http.StatusOK, views.LoginPage(views.LoginView{
		Next:   SafeNext(c.QueryParam("next")),
		Notice: h.takeNotice(c),
	}))
}

// login is POST /auth/login: check the password, start a session, set the
// cookies and send the browser on.
func (h *handler) login(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	next := SafeNext(form.Get("next"))
	username, uerr := textField(form, "username")
	pw, perr := textField(form, "password")
	view := views.LoginView{Username: username, Next: next}
	if uerr != nil || perr != nil || len(username) > 4*maxUsername || len(pw) > 4*maxPassword {
		view.Error = "The username or password contains characters or a length we do not accept."
		return render(c, http.StatusBadRequest, views.LoginPage(view))
	}
	if username == "" || pw == "" {
		view.Error = "Enter your username and password."
		return render(c, http.StatusBadRequest, views.LoginPage(view))
	}

	// The throttle comes before any lookup or hashing, so a throttled guess
	// costs us nothing and tells nothing (unknown accounts are counted too).
	attempt, wait := h.throttle.beginLogin(username, c.RealIP(), h.now())
	if wait > 0 {
		h.log.Warn("login throttled", "ip", c.RealIP(), "retry_after_s", retryAfterSeconds(wait))
		noStore(c)
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(wait)))
		view.Error = loginThrottled
		return render(c, http.StatusTooManyRequests, views.LoginPage(view))
	}

	ctx := c.Request().Context()
	user, err := h.store.UserByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Spend the same time as a real check, so timing does not reveal
		// whether the account exists.
		h.passwords.VerifyDummy(ctx, pw)
		view.Error = loginFailed
		return render(c, http.StatusUnauthorized, views.LoginPage(view))
	case err != nil:
		attempt.aborted()
		return err
	}
	ok, err := h.passwords.Verify(ctx, pw, user.PasswordHash)
	if err != nil {
		attempt.aborted()
		return err
	}
	if !ok {
		view.Error = loginFailed
		return render(c, http.StatusUnauthorized, views.LoginPage(view))
	}
	attempt.succeeded()
	if err := h.startSession(c, user); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, nextOr(next, "/dashboard"))
}

// startSession creates a session with its first refresh token, signs an
// access token for it, and sets both cookies.
func (h *handler) startSession(c echo.Context, user store.User) error {
	refresh, refreshHash, err := tokens.NewRefreshToken()
	if err != nil {
		return err
	}
	sess, err := h.store.CreateSession(c.Request().Context(), store.NewSession{
		UserID:      user.ID,
		RefreshHash: refreshHash,
		IdleTTL:     h.settings.RefreshTokenTTL,
		MaxAge:      h.settings.SessionMaxAge,
		Client:      client(c),
	})
	if err != nil {
		return err
	}
	access, _, err := h.tokens.Issue(user.ID, user.Username, sess.ID)
	if err != nil {
		return err
	}
	noStore(c)
	h.setAuthCookies(c, access, refresh, sess.ExpiresAt())
	return nil
}
