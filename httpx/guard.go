package httpx

import (
	"context"
	"errors"
	"net/http"

	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokenflow/tokens"
)

// Verifier checks an access token and returns its claims (tokens.Manager).
type Verifier interface {
	Verify(token string) (*tokens.Claims, error)
}

// ContextVerifier is a Verifier whose check may wait (JWKSVerifier: for a
// JWKS fetch) and stops waiting when ctx ends. The guard passes it the
// request's context, so a client that went away holds nothing.
type ContextVerifier interface {
	Verifier
	VerifyContext(ctx context.Context, token string) (*tokens.Claims, error)
}

// GuardConfig configures the echo-jwt guard: it accepts a token from the
// Authorization: Bearer header or from the access cookie (never from the
// URL) and verifies it with Verifier only. echo-jwt's default parser checks
// neither the algorithm, the issuer, the audience nor a required exp;
// Verifier does.
type GuardConfig struct {
	// Skipper defines a function to skip the guard.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper

	// Verifier checks the signature and claims of every token.
	// Required.
	Verifier Verifier

	// CookieName is the cookie that carries the access token, looked at
	// when there is no Authorization header. Two different values under
	// this name count as no token (see AuthCookie), as does a value not
	// shaped like a JWT.
	// Optional. Default value "": the Authorization header only.
	CookieName string

	// ErrorHandler decides what a caller without a valid token sees. Use
	// TokenMissing to tell "no token sent" from "a token sent and failed".
	// Optional. Default value: echo-jwt's (400 for a missing token, 401
	// for a failing one).
	ErrorHandler func(c echo.Context, err error) error
}

// Where the guard leaves what it verified in the context: the claims, and
// the token they came from.
const (
	claimsKey   = "claims"
	rawTokenKey = "access_token"
)

// ToMiddleware returns the guard, or an error when the config is unusable.
func (config GuardConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Verifier == nil {
		return nil, errors.New("httpx: GuardConfig.Verifier is required")
	}
	verify := func(_ context.Context, token string) (*tokens.Claims, error) { return config.Verifier.Verify(token) }
	if cv, ok := config.Verifier.(ContextVerifier); ok {
		verify = cv.VerifyContext
	}
	jwtConfig := echojwt.Config{
		Skipper:     config.Skipper,
		ContextKey:  claimsKey,
		TokenLookup: "header:Authorization:Bearer ",
		ParseTokenFunc: func(c echo.Context, auth string) (any, error) {
			claims, err := verify(c.Request().Context(), auth)
			if err == nil {
				c.Set(rawTokenKey, auth)
			}
			return claims, err
		},
		ErrorHandler: config.ErrorHandler,
	}
	if name := config.CookieName; name != "" {
		jwtConfig.TokenLookupFuncs = []middleware.ValuesExtractor{func(c echo.Context) ([]string, error) {
			value, err := CookieToken(c, name)
			if err != nil {
				return nil, err
			}
			return []string{value}, nil
		}}
	}
	return jwtConfig.ToMiddleware()
}

// ClaimsFrom returns the claims the guard verified; nil without the guard.
func ClaimsFrom(c echo.Context) *tokens.Claims {
	cl, _ := c.Get(claimsKey).(*tokens.Claims)
	return cl
}

// RawTokenFrom returns the access token the guard verified; "" without it.
func RawTokenFrom(c echo.Context) string {
	raw, _ := c.Get(rawTokenKey).(string)
	return raw
}

// TokenMissing tells "no token was sent" from "a token was sent and failed",
// for a GuardConfig.ErrorHandler.
func TokenMissing(err error) bool {
	var perr *echojwt.TokenParsingError
	return !errors.As(err, &perr)
}

// ErrNoTokenCookie means the access cookie is missing or is not shaped like
// a JWT; a malformed cookie is treated as absent.
var ErrNoTokenCookie = errors.New("httpx: no access cookie")

// CookieToken returns the access token in the cookie name: the one value
// AuthCookie finds, when it is shaped like a JWT. Two different values
// count as none (ErrConflictingCookies), so the guard reports a missing
// token and the caller sees the login page or the no-token challenge.
func CookieToken(c echo.Context, name string) (string, error) {
	value, err := AuthCookie(c, name)
	if err != nil {
		return "", err
	}
	if !jwtShaped(value) {
		return "", ErrNoTokenCookie
	}
	return value, nil
}

// ErrConflictingCookies: the request carries two different values under one
// auth-cookie name.
var ErrConflictingCookies = errors.New("httpx: conflicting cookies of one name")

// AuthCookie returns the one value the request carries under an auth
// cookie's name. Every reader of the access and refresh cookies goes
// through here. A browser sends two cookies of one name when another scope
// holds one too: a sibling subdomain's Domain= cookie, or a longer Path,
// which is sent first. Taking the first (or the first that works) would let
// whoever planted the other choose the identity the victim uses, a login
// CSRF no origin check sees. So two distinct values are ambiguous: the
// request gets no credential (ErrConflictingCookies), and callers clear
// nothing because of it, since clearing would remove only our own cookie
// and leave the planted one. Identical duplicates are one value.
// http.ErrNoCookie when there is none.
func AuthCookie(c echo.Context, name string) (string, error) {
	value, found := "", false
	for _, ck := range c.Request().CookiesNamed(name) {
		if found && ck.Value != value {
			return "", ErrConflictingCookies
		}
		value, found = ck.Value, true
	}
	if !found {
		return "", http.ErrNoCookie
	}
	return value, nil
}

// jwtShaped: three non-empty base64url segments, of a sane length. One
// pass, no allocation: it runs on every guarded request.
func jwtShaped(v string) bool {
	if len(v) == 0 || len(v) > tokens.MaxTokenLength {
		return false
	}
	dots, segment := 0, 0 // segment: length of the current segment
	for i := 0; i < len(v); i++ {
		switch b := v[i]; {
		case b == '.':
			if segment == 0 {
				return false
			}
			dots, segment = dots+1, 0
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_':
			segment++
		default:
			return false
		}
	}
	return dots == 2 && segment > 0
}
