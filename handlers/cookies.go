package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/views"
)

// Cookie names. Both auth cookies are HttpOnly: page scripts never see a
// token. These are the development names (plain HTTP); production uses
// the prefixed ones below. CookieNames picks.
const (
	AccessCookie  = "tf_access_token"  // the JWT; Path=/, SameSite=Lax
	RefreshCookie = "tf_refresh_token" // opaque; Path=/auth, SameSite=Strict
	noticeCookie  = "tf_notice"        // one-shot message for the login page
)

// Production cookie names. Browsers enforce the prefixes: a __Host- cookie
// is stored only with Secure, Path=/ and no Domain, so a sibling subdomain
// cannot plant one for us and no longer Path can shadow it; a __Secure-
// cookie only with Secure, so nothing over plain HTTP can plant it. The
// refresh cookie keeps Path=/auth (a __Host- one would need Path=/ and then
// travel with every request); a sibling on HTTPS can still plant a
// __Secure- one with Domain=, which the ambiguity rule (authCookie) turns
// into a refused refresh, never into someone else's session.
const (
	ProductionAccessCookie  = "__Host-" + AccessCookie
	ProductionRefreshCookie = "__Secure-" + RefreshCookie
)

// CookieNames returns the access and refresh cookie names: prefixed in
// production, plain in development (prefixes need Secure, which plain-HTTP
// development cannot set). New decides them once, so every reader and
// writer of one server agrees.
func CookieNames(production bool) (access, refresh string) {
	if production {
		return ProductionAccessCookie, ProductionRefreshCookie
	}
	return AccessCookie, RefreshCookie
}

// authCookieNames are the names one server reads and writes.
type authCookieNames struct{ access, refresh string }

func authCookieNamesFor(production bool) authCookieNames {
	access, refresh := CookieNames(production)
	return authCookieNames{access: access, refresh: refresh}
}

// conflictingCookiesMessage tells the user why a request with conflicting
// auth cookies counts as logged out.
const conflictingCookiesMessage = "Your browser sent two conflicting sign-in cookies for this site, so neither was used. " +
	"Another site on a neighbouring domain may have set one. Clear this site's cookies, then log in again."

// Every reader of the access and refresh cookies goes through
// httpx.AuthCookie: two distinct values under one name are no credential.

// conflictingAuthCookies reports whether either auth cookie is ambiguous,
// so the login page can explain why the user seems logged out.
func (h *handler) conflictingAuthCookies(c echo.Context) bool {
	for _, name := range []string{h.cookieNames.access, h.cookieNames.refresh} {
		if _, err := httpx.AuthCookie(c, name); errors.Is(err, httpx.ErrConflictingCookies) {
			return true
		}
	}
	return false
}

// refreshAmbiguous answers a refresh whose refresh cookies conflict: 401 as
// for a missing token, with the reason, and no auth Set-Cookie. Clearing
// would delete only our cookie and leave the planted one, which is how a
// sibling could otherwise log the victim out for good. fetch callers then
// go to the login page, where the notice explains (the planted cookie may
// have a Path that does not reach it).
func (h *handler) refreshAmbiguous(c echo.Context, next string) error {
	if wantsJSON(c) {
		h.setNotice(c, noticeConflict)
		return c.JSON(http.StatusUnauthorized, apiError{Error: "invalid_grant", Message: conflictingCookiesMessage})
	}
	return render(c, http.StatusUnauthorized, views.LoginPage(views.LoginView{Next: next, Notice: conflictingCookiesMessage}))
}

// The values of the notice cookie.
const (
	noticeReuse    = "security"
	noticeLogout   = "logout"
	noticeExpired  = "expired"
	noticeConflict = "conflict" // see authCookie
)

// authCookies builds both cookies with the attributes of docs/ARCHITECTURE.md. Setting
// and clearing go through here, so the attributes always match (a browser
// only deletes a cookie whose Path and Domain match the one it holds).
func (h *handler) authCookies(c echo.Context, access, refresh string, expires time.Time) (*http.Cookie, *http.Cookie) {
	secure := h.secureCookies(c)
	return &http.Cookie{
			Name:     h.cookieNames.access,
			Value:    access,
			Path:     "/",
			Expires:  expires,
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteLaxMode,
		}, &http.Cookie{
			Name:     h.cookieNames.refresh,
			Value:    refresh,
			Path:     "/auth",
			Expires:  expires,
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteStrictMode,
		}
}

// setAuthCookies hands the browser a new token pair. Both cookies live as
// long as the session, so an expired JWT can be told from "never logged in".
func (h *handler) setAuthCookies(c echo.Context, access, refresh string, sessionExpires time.Time) {
	a, r := h.authCookies(c, access, refresh, sessionExpires)
	c.SetCookie(a)
	c.SetCookie(r)
}

// setAccessCookie replaces only the access cookie (the development tool
// that expires it), with the same attributes as setAuthCookies.
func (h *handler) setAccessCookie(c echo.Context, access string, sessionExpires time.Time) {
	a, _ := h.authCookies(c, access, "", sessionExpires)
	c.SetCookie(a)
}

// clearAuthCookies removes both cookies.
func (h *handler) clearAuthCookies(c echo.Context) {
	a, r := h.authCookies(c, "", "", time.Unix(0, 0))
	a.MaxAge, r.MaxAge = -1, -1
	c.SetCookie(a)
	c.SetCookie(r)
}

// noticeCookieOf builds the notice cookie; setting and clearing share it.
func (h *handler) noticeCookieOf(c echo.Context, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: noticeCookie, Value: value, Path: "/auth", MaxAge: maxAge,
		HttpOnly: true, Secure: h.secureCookies(c), SameSite: http.SameSiteLaxMode,
	}
}

// setNotice leaves a one-shot message for the next login page.
func (h *handler) setNotice(c echo.Context, value string) {
	c.SetCookie(h.noticeCookieOf(c, value, 300))
}

// takeNotice reads and clears the one-shot message. kind is the cookie's
// value (noticeLogout, …) so the page can tell which notice it shows.
func (h *handler) takeNotice(c echo.Context) (kind, message string) {
	ck, err := c.Cookie(noticeCookie)
	if err != nil {
		return "", ""
	}
	c.SetCookie(h.noticeCookieOf(c, "", -1))
	switch ck.Value {
	case noticeReuse:
		return ck.Value, "For your security a session was ended: its refresh token was used twice, which happens when someone else has a copy. Please log in again."
	case noticeLogout:
		return ck.Value, "You have logged out."
	case noticeExpired:
		return ck.Value, "Your session has ended. Please log in again."
	case noticeConflict:
		return ck.Value, conflictingCookiesMessage
	}
	return "", ""
}

// secureCookies: Secure over HTTPS and always in production.
func (h *handler) secureCookies(c echo.Context) bool {
	return h.settings.Production || h.isHTTPS(c)
}
