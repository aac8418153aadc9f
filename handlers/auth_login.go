package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"tokenflow/auth"
	"tokenflow/views"
)

// loginFailed is the one message for an unknown user and a wrong password,
// so the form does not tell an attacker which usernames exist.
const loginFailed = "The username or password is not right."

// loginThrottled is the one message for every throttled login: the same for
// a locked account, a busy address, and a username that does not exist.
const loginThrottled = "Too many failed attempts. Please wait a few minutes, then try again."

// serverBusy is the message when no password hashing slot came free in
// time (login and registration alike).
const serverBusy = "The server is busy; try again in a moment."

// busy prepares a 503 answer: the form comes back with serverBusy.
func (h *handler) busy(c echo.Context, what string) {
	h.log.Warn(what+": no password hashing slot in time", "ip", c.RealIP(), "wait", h.auth.HashWait().String())
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(auth.MaxHashWait)))
}

// retryLater logs a throttled or rate-limited request and sets Retry-After
// on its answer. It returns the wait in whole seconds, for the message.
func (h *handler) retryLater(c echo.Context, event string, after time.Duration, attrs ...any) int {
	wait := retryAfterSeconds(after)
	h.log.Warn(event, append(attrs, "ip", c.RealIP(), "retry_after_s", wait)...)
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(wait))
	return wait
}

// loginForm is GET /auth/login.
func (h *handler) loginForm(c echo.Context) error {
	kind, notice := h.takeNotice(c)
	return render(c, http.StatusOK, views.LoginPage(views.LoginView{
		Nav:       h.nav(c),
		Next:      SafeNext(c.QueryParam("next")),
		Notice:    notice,
		LoggedOut: kind == noticeLogout,
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
	username, uerr := usernameField(form)
	pw, perr := textField(form, "password")
	view := views.LoginView{Nav: h.nav(c), Username: username, Next: next}
	if uerr != nil || perr != nil || len(username) > 4*maxUsername || len(pw) > 4*maxPassword {
		view.Error = "The username or password contains characters or a length we do not accept."
		return render(c, http.StatusBadRequest, views.LoginPage(view))
	}
	if username == "" || pw == "" {
		view.Error = "Enter your username and password."
		return render(c, http.StatusBadRequest, views.LoginPage(view))
	}

	res, err := h.auth.Login(c.Request().Context(), username, pw, client(c))
	page := func(status int, msg string) error {
		view.Error = msg
		return render(c, status, views.LoginPage(view))
	}
	if errors.Is(err, auth.ErrBadCredentials) {
		return page(http.StatusUnauthorized, loginFailed)
	}
	return h.startedSession(c, "login", loginThrottled, res, err, next, page)
}

// startedSession presents what Login or Register (what) returned to its
// form. The errors both share come back on the form through page:
// throttled as 429 with Retry-After and throttledMsg, busy as 503; any
// other error goes to the error handler; a session gets its cookies and a
// 303 to next. The caller presents its own errors (bad credentials, a
// taken username) first.
func (h *handler) startedSession(c echo.Context, what, throttledMsg string, res auth.Result, err error, next string, page func(status int, msg string) error) error {
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		h.retryLater(c, what+" throttled", throttled.RetryAfter)
		return page(http.StatusTooManyRequests, throttledMsg)
	case errors.Is(err, auth.ErrBusy):
		h.busy(c, what)
		return page(http.StatusServiceUnavailable, serverBusy)
	case err != nil:
		return err
	}
	h.setAuthCookies(c, res.AccessToken, res.RefreshToken, res.SessionExpiresAt())
	return c.Redirect(http.StatusSeeOther, nextOr(next, "/dashboard"))
}
