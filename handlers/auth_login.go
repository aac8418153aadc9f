package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

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

// serverBusy is the message when no password hashing slot came free in
// time (login and registration alike).
const serverBusy = "The server is busy; try again in a moment."

// maxHashWait bounds how long a login or registration waits for a password
// hashing slot. The hasher runs a few argon2 computations at a time and
// queues the rest; the server sets no handler deadline, so without this
// bound a flood of requests would pile up waiting goroutines and delay real
// logins without limit. Past it the request gets 503 with Retry-After, and
// the queue stays about as long as the hasher clears in five seconds.
const maxHashWait = 5 * time.Second

// hashing returns the context a password hash or check runs under: the
// request's, bounded by the hashing wait.
func (h *handler) hashing(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), h.hashWait)
}

// hashTimedOut reports whether err is the hashing wait running out (as
// opposed to the client going away, which is context.Canceled).
func hashTimedOut(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// busy prepares a 503 answer: the form comes back with serverBusy.
func (h *handler) busy(c echo.Context, what string) {
	h.log.Warn(what+": no password hashing slot in time", "ip", c.RealIP(), "wait", h.hashWait.String())
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(maxHashWait)))
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

	// The throttle comes before any lookup or hashing, so a throttled guess
	// costs us nothing and tells nothing (unknown accounts are counted too).
	// Its wait for attempts in flight shares the hashing wait's bound.
	hashCtx, cancel := h.hashing(c)
	defer cancel()
	attempt, wait, err := h.throttle.BeginLogin(hashCtx, username, c.RealIP(), h.now)
	if err != nil {
		if hashTimedOut(err) {
			h.busy(c, "login")
			view.Error = serverBusy
			return render(c, http.StatusServiceUnavailable, views.LoginPage(view))
		}
		return err
	}
	if wait > 0 {
		h.log.Warn("login throttled", "ip", c.RealIP(), "retry_after_s", retryAfterSeconds(wait))
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(wait)))
		view.Error = loginThrottled
		return render(c, http.StatusTooManyRequests, views.LoginPage(view))
	}
	// Whatever way the check ends without saying otherwise, it failed.
	defer attempt.Failed()

	user, err := h.store.UserByUsername(c.Request().Context(), username)
	known := err == nil
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	} else if err != nil {
		attempt.Aborted()
		return err
	}
	ok := false
	if known {
		ok, err = h.passwords.Verify(hashCtx, pw, user.PasswordHash)
	} else {
		// Spend the same time as a real check, so timing does not reveal
		// whether the account exists.
		h.passwords.VerifyDummy(hashCtx, pw)
	}
	if err == nil {
		// VerifyDummy reports nothing, so ask the context; and ask it after
		// a real check too, so both paths answer the same when the wait
		// ran out or the client left (a result that came just too late is
		// dropped either way).
		err = hashCtx.Err()
	}
	if err != nil {
		// The check did not happen (or we do not act on it): not the
		// caller's failure.
		attempt.Aborted()
		if hashTimedOut(err) {
			h.busy(c, "login")
			view.Error = serverBusy
			return render(c, http.StatusServiceUnavailable, views.LoginPage(view))
		}
		return err
	}
	if !known || !ok {
		attempt.Failed()
		view.Error = loginFailed
		return render(c, http.StatusUnauthorized, views.LoginPage(view))
	}
	attempt.Succeeded()
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

		MaxLiveSessions: h.settings.MaxSessionsPerUser,
	})
	if err != nil {
		return err
	}
	access, _, err := h.tokens.Issue(user.ID, user.Username, sess.ID)
	if err != nil {
		return err
	}
	h.setAuthCookies(c, access, refresh, sess.ExpiresAt())
	return nil
}
