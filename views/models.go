// Package views holds the templ pages. Each page takes a view model defined
// here and never touches the store or tokens: handlers fill the models.
package views

import (
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// Nav is what every page's header needs to know.
type Nav struct {
	Username string // "" when nobody is logged in
	// Refreshing: the interstitial, whose session is being renewed; the
	// header offers neither "Log in" nor the account's pages.
	Refreshing bool
}

// LoginView is the login form. With Nav.Username set, someone is logged in
// already: the page says who, and keeps the form for switching accounts.
type LoginView struct {
	Nav      Nav
	Username string // kept after a failed attempt
	Next     string // sanitised local path, or ""
	Error    string // one generic message after a failure
	Notice   string // e.g. "a session was ended for security reasons"
	// LoggedOut: Notice confirms a logout of this browser's session; the
	// page script then tells the browser's other tabs (app.js).
	LoggedOut bool
}

// RegisterView is the registration form.
type RegisterView struct {
	Nav      Nav
	Username string
	Next     string
	Errors   map[string]string // field name -> message
}

// DashboardView is the protected page.
type DashboardView struct {
	Nav              Nav
	UserID           string
	Username         string
	SessionID        string
	AccessExpiresAt  time.Time
	AccessIssuedAt   time.Time
	SessionExpiresAt time.Time
	Token            TokenParts
	// TokenInspector is TokenInspector(Token) rendered before, for a page
	// that shows one token many times. Optional; nil: rendered from Token.
	TokenInspector templ.Component
	Events         []EventView
	DevTools       bool      // development-only buttons
	Now            time.Time // for the countdowns' first text
}

// TokenParts is an access token split for the inspector. The handler decodes
// a token that the guard has already verified; the page only displays it.
// The signature is only a preview: with all three parts in the page, any
// script running there could copy a working token, which is what the
// HttpOnly cookie prevents.
type TokenParts struct {
	Header           string // base64url, as sent
	Payload          string
	SignaturePreview string // the signature's first characters and "…"
	HeaderJSON       string // pretty-printed
	PayloadJSON      string
	Claims           []ClaimView
	// Alg and Kid name the key that signed the token, from its (verified)
	// header. PublicKey: an asymmetric alg, verified with a published key
	// found at JWKSURL by kid; false for HS256, whose secret both signs
	// and verifies and is published nowhere (JWKSURL is then empty).
	Alg       string
	Kid       string
	PublicKey bool
	JWKSURL   string
}

// ClaimView is one explained claim.
type ClaimView struct {
	Name    string
	Value   string
	Meaning string
}

// EventView is one line of the session timeline.
type EventView struct {
	Kind   string
	Label  string
	At     time.Time
	IP     string
	Device string
}

// SessionsView lists the user's sessions.
type SessionsView struct {
	Nav      Nav
	Sessions []SessionRow
	Notice   string
	Now      time.Time // for "ends in …"
}

// SessionRow is one session on the sessions page.
type SessionRow struct {
	ID         string
	Device     string
	IP         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	Current    bool
}

// InterstitialView is shown when a page's access token has expired: the
// browser refreshes it and continues to Next.
type InterstitialView struct {
	Next string // the page that was asked for, query kept
}

// ErrorView is the generic error page.
type ErrorView struct {
	Nav       Nav
	Status    int
	Title     string
	Message   string
	RequestID string // only for server errors, for people to quote to support
}

// TimeFormat is how pages print instants (UTC, unambiguous).
const TimeFormat = "2006-01-02 15:04:05 MST"

// FormatTime prints an instant the way every page does.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(TimeFormat)
}

func unixString(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// shortID is the start of a session id: enough to tell two sessions apart
// on a page, and to match the id the dashboard shows.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// continueTo is where a logged-in visitor of the login page goes on to.
func continueTo(next string) string {
	if next == "" {
		return "/dashboard"
	}
	return next
}

// withNext appends a sanitised next path to a link.
func withNext(path, next string) string {
	if next == "" {
		return path
	}
	return path + "?next=" + url.QueryEscape(next)
}

// revokeLabel names a session's revoke button for screen readers, so two
// sessions that look alike get different names.
func revokeLabel(s SessionRow) string {
	if s.Current {
		return "Revoke this device's session (logs you out)"
	}
	return "Revoke the session of " + s.Device + " from " + s.IP + ", started " + FormatTime(s.CreatedAt) + " (id " + shortID(s.ID) + ")"
}

// describedBy is a form field's aria-describedby: its error first (what the
// screen reader should say first), then its hint; "" when it has neither.
func describedBy(name, hint, errMsg string) string {
	var ids []string
	if errMsg != "" {
		ids = append(ids, name+"-error")
	}
	if hint != "" {
		ids = append(ids, name+"-hint")
	}
	return strings.Join(ids, " ")
}
