package gateway

// What the gateway tells its metrics about each access-token check: one of
// a bounded set of results, derived from the error's sentinels (never its
// text, which names kids and claims a client chose).

import (
	"errors"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/tokens"
)

// VerifyResult is the outcome of the gateway's check of one request.
type VerifyResult string

// The results, a bounded set (metric label values).
const (
	VerifyOK               VerifyResult = "ok"
	VerifyMissing          VerifyResult = "missing"
	VerifyExpired          VerifyResult = "expired"
	VerifyInvalidSignature VerifyResult = "invalid_signature"
	VerifyUnknownKid       VerifyResult = "unknown_kid"
	VerifyMalformed        VerifyResult = "malformed"
	VerifyInvalidClaims    VerifyResult = "invalid_claims"
	VerifyInvalid          VerifyResult = "invalid"
)

// VerifyResults lists every result, so a counter can start them at zero.
var VerifyResults = []VerifyResult{VerifyOK, VerifyMissing, VerifyExpired, VerifyInvalidSignature,
	VerifyUnknownKid, VerifyMalformed, VerifyInvalidClaims, VerifyInvalid}

// Observer hears the result of every token check on a guarded path
// (metrics.Metrics).
type Observer interface {
	TokenVerified(result VerifyResult)
}

// verifyResult names why the guard refused a request. Unknown kid comes
// before the signature: the verifier reports it as unverifiable.
func verifyResult(err error) VerifyResult {
	switch {
	case httpx.TokenMissing(err):
		return VerifyMissing
	case errors.Is(err, jwt.ErrTokenExpired):
		return VerifyExpired
	case errors.Is(err, tokens.ErrUnknownKid):
		return VerifyUnknownKid
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return VerifyInvalidSignature
	case errors.Is(err, jwt.ErrTokenMalformed):
		return VerifyMalformed
	case errors.Is(err, jwt.ErrTokenInvalidClaims), errors.Is(err, jwt.ErrTokenRequiredClaimMissing),
		errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience),
		errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return VerifyInvalidClaims
	default:
		return VerifyInvalid
	}
}

type discardResults struct{}

func (discardResults) TokenVerified(VerifyResult) {}

// countRefusal wraps the guard's ErrorHandler to report why it refused.
func countRefusal(o Observer, handler func(echo.Context, error) error) func(echo.Context, error) error {
	return func(c echo.Context, err error) error {
		o.TokenVerified(verifyResult(err))
		return handler(c, err)
	}
}

// countAccepted runs after the guard: the request carries a verified token.
func countAccepted(o Observer) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			o.TokenVerified(VerifyOK)
			return next(c)
		}
	}
}
