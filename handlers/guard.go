package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokenflow/store"
	"tokenflow/tokens"
	"tokenflow/views"
)

// Where the guard leaves what it verified in the context: the claims, and
// the token they came from (for the inspector).
const (
	claimsKey   = "claims"
	rawTokenKey = "access_token"
)

// guard returns echo-jwt middleware that accepts a token from the
// Authorization: Bearer header or the access cookie (never from the URL) and
// verifies it with our own parser: HS256 only, issuer, audience and a
// required exp. echo-jwt's default parser checks none of the last three.
// onError decides what an unauthenticated caller sees.
func (h *handler) guard(onError func(echo.Context, error) error) echo.MiddlewareFunc {
	mw, err := echojwt.Config{
		ContextKey:       claimsKey,
		TokenLookup:      "header:Authorization:Bearer ",
		TokenLookupFuncs: []middleware.ValuesExtractor{h.accessCookieExtractor},
		ParseTokenFunc: func(c echo.Context, auth string) (any, error) {
			claims, err := h.tokens.Verify(auth)
			if err == nil {
				c.Set(rawTokenKey, auth)
			}
			return claims, err
		},
		ErrorHandler: onError,
	}.ToMiddleware()
	if err != nil {
		// Only a programming error (a bad TokenLookup) gets here.
		panic(fmt.Sprintf("handlers: guard config: %v", err))
	}
	return mw
}

// errNoCookie means the access cookie is missing or is not shaped like a JWT;
// a malformed cookie is treated as absent.
var errNoCookie = errors.New("no access cookie")

// accessCookieExtractor returns the access cookie's value. Two different
// access cookies (one planted by a sibling subdomain or under a longer
// path) count as none: see authCookie. echo-jwt then reports a missing
// token, so the caller sees the login page or the no-token challenge.
func (h *handler) accessCookieExtractor(c echo.Context) ([]string, error) {
	value, err := authCookie(c, h.cookieNames.access)
	if err != nil {
		return nil, err
	}
	if !jwtShaped(value) {
		return nil, errNoCookie
	}
	return []string{value}, nil
}

// accessCookieClaims verifies the access cookie outside the guard, for
// public pages (header links) and logout. nil when there is no valid one.
func (h *handler) accessCookieClaims(c echo.Context) *tokens.Claims {
	values, err := h.accessCookieExtractor(c)
	if err != nil {
		return nil
	}
	cl, err := h.tokens.Verify(values[0])
	if err != nil {
		return nil
	}
	return cl
}

// jwtShaped: three non-empty base64url segments, of a sane length.
func jwtShaped(v string) bool {
	if len(v) == 0 || len(v) > tokens.MaxTokenLength || strings.Count(v, ".") != 2 {
		return false
	}
	for _, part := range strings.Split(v, ".") {
		if part == "" {
			return false
		}
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// tokenMissing tells "no token was sent" from "a token was sent and failed".
func tokenMissing(err error) bool {
	var perr *echojwt.TokenParsingError
	return !errors.As(err, &perr)
}

// claimsFrom returns the claims the guard verified.
func claimsFrom(c echo.Context) *tokens.Claims {
	cl, _ := c.Get(claimsKey).(*tokens.Claims)
	return cl
}

// pageAuthError: no token goes to the login page; an expired or otherwise
// failing token gets the interstitial, which tries a refresh first.
func (h *handler) pageAuthError(c echo.Context, err error) error {
	next := requestedPage(c)
	if tokenMissing(err) {
		if h.conflictingAuthCookies(c) {
			h.setNotice(c, noticeConflict) // else logging in would seem to do nothing
		}
		return c.Redirect(http.StatusSeeOther, "/auth/login?next="+url.QueryEscape(next))
	}
	return render(c, http.StatusUnauthorized, views.InterstitialPage(views.InterstitialView{Next: next}))
}

// requestedPage is where to continue after login or refresh: the page asked
// for (query kept) for GET; for a form post, the page the form lives on.
func requestedPage(c echo.Context) string {
	r := c.Request()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nextOr(r.URL.RequestURI(), "/dashboard")
	}
	if strings.HasPrefix(r.URL.Path, "/sessions") {
		return "/sessions"
	}
	return "/dashboard"
}

// sessionKey is where requireLiveSession leaves the token's session.
const sessionKey = "session"

// errSessionEnded: the access token is genuine, but its session was logged
// out, revoked or has expired. It is no token parsing error, so the guard's
// error handlers answer as for a request that carries no credential.
var errSessionEnded = errors.New("the session of this access token has ended")

// requireLiveSession runs after the guard, on the routes that change state
// or list and end the user's sessions: the token's session must still be
// live. An access token outlives a logout or a revocation until its exp,
// and on these routes that must not let it act: an ended session's token is
// treated as no credential at all (the login page, or 401 JSON with the
// plain challenge, so a script does not try a refresh) and changes nothing.
//
// Pure-token reads (/api/me, and the token part of /dashboard) stay
// stateless on purpose: they show what the token itself says, which is the
// point of an access token that any instance or gateway verifies with only
// the key; their exposure is bounded by ACCESS_TOKEN_TTL (README,
// Security). What the store knows about the session (the dashboard's
// timeline) is session data and goes only to a live session (liveSession).
func (h *handler) requireLiveSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cl := claimsFrom(c)
		if cl == nil {
			// Only a route wired without the guard gets here.
			return errors.New("handlers: requireLiveSession without the guard")
		}
		sess, live, err := h.liveSession(c.Request().Context(), cl)
		if err != nil {
			return err
		}
		if live {
			c.Set(sessionKey, sess)
			return next(c)
		}
		if wantsJSON(c) {
			return h.apiAuthError(c, errSessionEnded)
		}
		return h.pageAuthError(c, errSessionEnded)
	}
}

// liveSession finds the session a verified access token names and reports
// whether it is live: neither logged out, revoked nor expired, and the
// token's user's. It is the one definition of "live" for an access token.
func (h *handler) liveSession(ctx context.Context, cl *tokens.Claims) (store.Session, bool, error) {
	sess, err := h.store.Session(ctx, cl.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, false, nil
	case err != nil:
		return store.Session{}, false, err
	}
	return sess, sess.UserID == cl.Subject && sess.Active(h.now()), nil
}

// liveSessionFrom returns the session requireLiveSession checked.
func liveSessionFrom(c echo.Context) store.Session {
	sess, _ := c.Get(sessionKey).(store.Session)
	return sess
}

// apiAuthError answers JSON with an RFC 6750 challenge.
func (h *handler) apiAuthError(c echo.Context, err error) error {
	if tokenMissing(err) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="tokenflow"`)
		return c.JSON(http.StatusUnauthorized, apiError{
			Error:   "unauthorized",
			Message: "No access token: log in, or send Authorization: Bearer <token>.",
		})
	}
	desc := "the access token is invalid"
	if tokens.Expired(err) {
		desc = "the access token expired"
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate,
		`Bearer realm="tokenflow", error="invalid_token", error_description="`+desc+`"`)
	return c.JSON(http.StatusUnauthorized, apiError{Error: "invalid_token", Message: desc})
}

// apiError is the body of every JSON error.
type apiError struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}
