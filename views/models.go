// Package views holds the templ pages. Each page takes a view model defined
// here and never touches the store or tokens: handlers fill the models.
package views

import (
	"net/url"
	"time"
)

// Nav is what every page's header needs to know.
type Nav struct {
	Username string // "" when nobody is logged in
}

// LoginView is the login form.
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
	Events           []EventView
	DevTools         bool // development-only buttons
}

// TokenParts is an access token split for the inspector. The handler decodes
// a token that the guard has already verified; the page only displays it.
type TokenParts struct {
	Header      string // base64url, as sent
	Payload     string
	Signature   string
	HeaderJSON  string // pretty-printed
	PayloadJSON string
	Claims      []ClaimView
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
	RequestID string
}

// TimeFormat is how pages print instants (UTC, unambiguous).
const TimeFormat = "2006-01-02 15:04:05 MST"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(TimeFormat)
}

func unixString(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// withNext appends a sanitised next path to a link.
func withNext(path, next string) string {
	if next == "" {
		return path
	}
	return path + "?next=" + url.QueryEscape(next)
}
