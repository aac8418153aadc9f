package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"tokenflow/password"
	"tokenflow/store"
	"tokenflow/views"
)

// registerForm is GET /auth/register.
func (h *handler) registerForm(c echo.Context) error {
	return render(c, http.StatusOK, views.RegisterPage(views.RegisterView{Nav: h.nav(c), Next: SafeNext(c.QueryParam("next"))}))
}

// register is POST /auth/register: validate, create the user, log in.
// Invalid input answers 422 with a message next to each field.
func (h *handler) register(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	view := views.RegisterView{Nav: h.nav(c), Next: SafeNext(form.Get("next")), Errors: map[string]string{}}
	username, err := usernameField(form)
	if err != nil {
		view.Errors["username"] = "A username " + err.Error() + "."
	} else if msg := validateUsername(username); msg != "" {
		view.Errors["username"] = msg
	}
	if len(username) <= 4*maxUsername {
		view.Username = username // echo back only what fits the field
	}
	// An invalid username is not compared with the password: "ho" would
	// blame "hold the door" for a mistake in the other field.
	validUsername := username
	if view.Errors["username"] != "" {
		validUsername = ""
	}
	pw, err := textField(form, "password")
	if err != nil {
		view.Errors["password"] = "A password " + err.Error() + "."
	} else if err := password.Check(pw, validUsername); err != nil {
		view.Errors["password"] = err.Error()
	}
	if form.Get("password_confirm") != pw {
		view.Errors["password_confirm"] = "The two passwords differ."
	}
	if len(view.Errors) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.RegisterPage(view))
	}

	// Counted once the form is valid: that is where the argon2 work and a
	// new row begin.
	if wait := h.throttle.AllowRegistration(c.RealIP(), h.now()); wait > 0 {
		h.log.Warn("registration throttled", "ip", c.RealIP(), "retry_after_s", retryAfterSeconds(wait))
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds(wait)))
		view.Errors["form"] = "Too many registrations from your network. Please try again later."
		return render(c, http.StatusTooManyRequests, views.RegisterPage(view))
	}

	hashCtx, cancel := h.hashing(c)
	defer cancel()
	hash, err := h.passwords.Hash(hashCtx, pw)
	if err != nil {
		if hashTimedOut(err) {
			// Nothing was hashed or created: the attempt does not count.
			h.throttle.RegistrationAborted(c.RealIP())
			h.busy(c, "registration")
			view.Errors["form"] = serverBusy
			return render(c, http.StatusServiceUnavailable, views.RegisterPage(view))
		}
		return err
	}
	user, err := h.store.CreateUser(c.Request().Context(), username, hash)
	if errors.Is(err, store.ErrUsernameTaken) {
		view.Errors["username"] = "This username is taken."
		return render(c, http.StatusUnprocessableEntity, views.RegisterPage(view))
	}
	if err != nil {
		return err
	}
	if err := h.startSession(c, user); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, nextOr(view.Next, "/dashboard"))
}
