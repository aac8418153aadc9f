package httpx

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"tokenflow/tokens"
)

// Realm is the realm of every Bearer challenge.
const Realm = "tokenflow"

// APIError is the body of a JSON error of the gateway and the services.
type APIError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// BearerChallenge answers a JSON API request the guard refused: 401 with an
// RFC 6750 §3 challenge, `Bearer realm="tokenflow"` when no token was sent,
// with error="invalid_token" and a fixed description when one was sent
// and failed. It is a GuardConfig.ErrorHandler. The description never
// quotes the token or the verifier's error (which may name a kid the
// caller chose).
func BearerChallenge(c echo.Context, err error) error {
	NoStore(c)
	if TokenMissing(err) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="`+Realm+`"`)
		return c.JSON(http.StatusUnauthorized, APIError{
			Error:   "unauthorized",
			Message: "No access token: log in, or send Authorization: Bearer <token>.",
		})
	}
	desc := InvalidTokenDescription(err)
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, InvalidTokenChallenge(desc))
	return c.JSON(http.StatusUnauthorized, APIError{Error: "invalid_token", Message: desc})
}

// InvalidTokenDescription is the RFC 6750 error_description of a token that
// was sent and failed: fixed text, never the token or the verifier's error.
func InvalidTokenDescription(err error) string {
	if tokens.Expired(err) {
		return "the access token expired"
	}
	return "the access token is invalid"
}

// InvalidTokenChallenge is the WWW-Authenticate value for such a token.
func InvalidTokenChallenge(desc string) string {
	return `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + desc + `"`
}
