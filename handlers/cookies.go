package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Cookie names. Both are HttpOnly: page scripts never see a token.
const (
	AccessCookie  = "tf_access_token"  // the JWT; Path=/, SameSite=Lax
	RefreshCookie = "tf_refresh_token" // opaque; Path=/auth, SameSite=Strict
	noticeCookie  = "tf_notice"        // one-shot message for the login page
)

// noticeReuse and noticeLogout are the values of the notice cookie.
const (
	noticeReuse   = "security"
	noticeLogout  = "logout"
	noticeExpired = "expired"
)

// authCookies builds both cookies with the attributes of DESIGN.md. Setting
// and clearing go through here, so the attributes always match (a browser
// only deletes a cookie whose Path and Domain match the one it holds).
func (h *handler) authCookies(c echo.Context, access, refresh string, expires time.Time) (*http.Cookie, *http.Cookie) {
	secure := h.secureCookies(c)
	return &http.Cookie{
			Name:     AccessCookie,
			Value:    access,
			Path:     "/",
			Expires:  expires,
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteLaxMode,
		}, &http.Cookie{
			Name:     RefreshCookie,
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
	}
	return "", ""
}

// secureCookies: Secure over HTTPS and always in production.
func (h *handler) secureCookies(c echo.Context) bool {
	return h.settings.Production || h.isHTTPS(c)
}
