package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"tokenflow/auth"
	"tokenflow/password"
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

	res, err := h.auth.Register(c.Request().Context(), username, pw, client(c))
	if errors.Is(err, auth.ErrUsernameTaken) {
		view.Errors["username"] = "This username is taken."
		return render(c, http.StatusUnprocessableEntity, views.RegisterPage(view))
	}
	return h.startedSession(c, "registration", registrationThrottled, res, err, view.Next, func(status int, msg string) error {
		view.Errors["form"] = msg
		return render(c, status, views.RegisterPage(view))
	})
}

// registrationThrottled is the message for a throttled registration.
const registrationThrottled = "Too many registrations from your network. Please try again later."
