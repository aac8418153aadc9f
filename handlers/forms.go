package handlers

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"tokenflow/password"
)

// maxFormBytes is the body limit of every form (413 beyond it).
const maxFormBytes = 64 << 10

// readForm parses an HTML form body. It answers 415 for other content types,
// 413 for an oversized body and 400 for a body it cannot parse. A POST with
// no body at all (fetch to /auth/refresh) is an empty form.
func readForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" {
		if r.ContentLength > 0 {
			return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the form as application/x-www-form-urlencoded.")
		}
		return url.Values{}, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "The Content-Type header is not valid.")
	}
	switch mt {
	case echo.MIMEApplicationForm:
		err = r.ParseForm()
	case echo.MIMEMultipartForm:
		err = r.ParseMultipartForm(maxFormBytes)
	default:
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the form as application/x-www-form-urlencoded.")
	}
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The form is too large.")
		}
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.").SetInternal(err)
	}
	return r.PostForm, nil
}

// errBadText is returned by textField for values that are not plain text.
var errBadText = errors.New("must be plain text: no control characters or invalid UTF-8")

// textField returns the first value of a form field, refusing invalid UTF-8,
// NUL and other control characters. Nothing is trimmed or truncated.
func textField(form url.Values, name string) (string, error) {
	v := form.Get(name)
	if !utf8.ValidString(v) {
		return "", errBadText
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", errBadText
		}
	}
	return v, nil
}

// Username rules. The rules for a new password are password.Check's.
const (
	minUsername = 3
	maxUsername = 32
	maxPassword = password.MaxLength // what the login form bothers to check
)

// validateUsername returns "" or a message for the form.
func validateUsername(u string) string {
	n := utf8.RuneCountInString(u)
	switch {
	case n == 0:
		return "Choose a username."
	case n < minUsername:
		return "A username has at least 3 characters."
	case n > maxUsername:
		return "A username has at most 32 characters."
	}
	for i, r := range u {
		ok := r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && strings.ContainsRune("._-", r)))
		if !ok {
			return "Use letters a to z, digits, and . _ - (not first)."
		}
	}
	return ""
}

// usernameField reads the username of the login and registration forms.
// Spaces around it are dropped: pasted or typed with a trailing space it
// is still the same account.
func usernameField(form url.Values) (string, error) {
	u, err := textField(form, "username")
	return strings.TrimSpace(u), err
}
