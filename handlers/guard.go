package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/store"
	"tokenflow/tokens"
	"tokenflow/views"
)

// guard returns the echo-jwt guard (httpx.GuardConfig) on the access
// cookie and the Authorization header, verified with our own parser: each
// key pinned to its algorithm, issuer, audience and a required exp. onError decides what an
// unauthenticated caller sees.
func (h *handler) guard(onError func(echo.Context, error) error) echo.MiddlewareFunc {
	mw, err := httpx.GuardConfig{
		Verifier:     h.tokens,
		CookieName:   h.cookieNames.access,
		ErrorHandler: onError,
	}.ToMiddleware()
	if err != nil {
		// Only a programming error (no verifier) gets here.
		panic(fmt.Sprintf("handlers: guard config: %v", err))
	}
	return mw
}

// accessCookieClaims verifies the access cookie outside the guard, for
// public pages (header links) and logout. nil when there is no valid one.
func (h *handler) accessCookieClaims(c echo.Context) *tokens.Claims {
	value, err := httpx.CookieToken(c, h.cookieNames.access)
	if err != nil {
		return nil
	}
	cl, err := h.tokens.Verify(value)
	if err != nil {
		return nil
	}
	return cl
}

// pageAuthError: no token goes to the login page; an expired or otherwise
// failing token gets the interstitial, which tries a refresh first.
func (h *handler) pageAuthError(c echo.Context, err error) error {
	next := requestedPage(c)
	if httpx.TokenMissing(err) {
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
// timeline) is session data and goes only to a live session
// (auth.Service.LiveSession, and LiveSessionTimeline for the dashboard).
func (h *handler) requireLiveSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cl := httpx.ClaimsFrom(c)
		if cl == nil {
			// Only a route wired without the guard gets here.
			return errors.New("handlers: requireLiveSession without the guard")
		}
		sess, live, err := h.auth.LiveSession(c.Request().Context(), cl)
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

// liveSessionFrom returns the session requireLiveSession checked.
func liveSessionFrom(c echo.Context) store.Session {
	sess, _ := c.Get(sessionKey).(store.Session)
	return sess
}

// apiAuthError answers JSON with an RFC 6750 challenge: the same answer as
// the gateway and the services give (httpx.BearerChallenge).
func (h *handler) apiAuthError(c echo.Context, err error) error {
	return httpx.BearerChallenge(c, err)
}

// apiError is the body of every JSON error.
type apiError struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}
