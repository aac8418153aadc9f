package handlers

// What the dashboard shows about the caller's session, once: the page
// renders it, and GET /api/session (and the development expire tool) send
// the same as JSON, so that after a refresh in the page static/app.js can
// update the countdowns, the token inspector and the timeline in place.
// Page scripts cannot read the HttpOnly cookie to do that themselves.

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/tokens"
	"tokenflow/views"
)

// timelineLength is how many events of a session the dashboard lists.
const timelineLength = 50

// dashboardView describes the session behind claims, whose token is raw
// (already verified by the guard, or just issued by the expire tool).
func (h *handler) dashboardView(ctx context.Context, cl *tokens.Claims, raw string) (views.DashboardView, error) {
	inspected, err := h.inspections.of(ctx, cl, raw)
	if err != nil {
		return views.DashboardView{}, err
	}
	v := views.DashboardView{
		Nav:             views.Nav{Username: cl.Username},
		UserID:          cl.Subject,
		Username:        cl.Username,
		SessionID:       cl.SessionID,
		AccessExpiresAt: cl.ExpiresAt.Time,
		AccessIssuedAt:  cl.IssuedAt.Time,
		DevTools:        !h.settings.Production,
		Now:             h.now(),
		Token:           inspected.parts,
		TokenInspector:  inspected.html,
	}
	// The token's own claims go to any valid token; the store's view of
	// the session only to a live one (auth.Service.LiveSessionTimeline,
	// which reads both in one statement and keeps an ended session's
	// timeline, with the address and device of whoever ended it, from a
	// copied token).
	sess, events, live, err := h.auth.LiveSessionTimeline(ctx, cl, timelineLength)
	if err != nil || !live {
		return v, err
	}
	v.SessionExpiresAt = sess.ExpiresAt()
	v.Events = eventViews(events)
	return v, nil
}

// sessionState is the JSON form of the dashboard's changing parts. It
// carries no token: the inspector's parts stop at a signature preview.
// Instants come with the text the page prints for them, so the script does
// not need a second time format.
type sessionState struct {
	SessionID      string             `json:"session_id"`
	AccessExpires  instantJSON        `json:"access_expires"`
	SessionExpires instantJSON        `json:"session_expires"`
	Token          tokenPartsJSON     `json:"token"`
	Events         []sessionEventJSON `json:"events"`
}

type instantJSON struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

type tokenPartsJSON struct {
	Header           string      `json:"header"`
	Payload          string      `json:"payload"`
	SignaturePreview string      `json:"signature_preview"`
	HeaderJSON       string      `json:"header_json"`
	PayloadJSON      string      `json:"payload_json"`
	Alg              string      `json:"alg"`
	Kid              string      `json:"kid"`
	PublicKey        bool        `json:"public_key"`
	JWKSURL          string      `json:"jwks_url"`
	Claims           []claimJSON `json:"claims"`
}

type claimJSON struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Meaning string `json:"meaning"`
}

type sessionEventJSON struct {
	Kind   string    `json:"kind"`
	Label  string    `json:"label"`
	At     time.Time `json:"at"`
	AtText string    `json:"at_text"`
	IP     string    `json:"ip"`
	Device string    `json:"device"`
}

func instant(t time.Time) instantJSON {
	return instantJSON{At: t.UTC(), Text: views.FormatTime(t)}
}

// sessionStateOf turns the dashboard's view into its JSON form.
func sessionStateOf(v views.DashboardView) sessionState {
	s := sessionState{
		SessionID:      v.SessionID,
		AccessExpires:  instant(v.AccessExpiresAt),
		SessionExpires: instant(v.SessionExpiresAt),
		Token: tokenPartsJSON{
			Header: v.Token.Header, Payload: v.Token.Payload, SignaturePreview: v.Token.SignaturePreview,
			HeaderJSON: v.Token.HeaderJSON, PayloadJSON: v.Token.PayloadJSON,
			Alg: v.Token.Alg, Kid: v.Token.Kid, PublicKey: v.Token.PublicKey, JWKSURL: v.Token.JWKSURL,
			Claims: make([]claimJSON, 0, len(v.Token.Claims)),
		},
		Events: make([]sessionEventJSON, 0, len(v.Events)),
	}
	for _, c := range v.Token.Claims {
		s.Token.Claims = append(s.Token.Claims, claimJSON(c))
	}
	for _, e := range v.Events {
		s.Events = append(s.Events, sessionEventJSON{
			Kind: e.Kind, Label: e.Label, At: e.At.UTC(), AtText: views.FormatTime(e.At), IP: e.IP, Device: e.Device,
		})
	}
	return s
}

// sessionJSON is GET /api/session: the dashboard's changing parts as JSON,
// for the token the guard accepted.
func (h *handler) sessionJSON(c echo.Context) error {
	raw := httpx.RawTokenFrom(c)
	v, err := h.dashboardView(c.Request().Context(), httpx.ClaimsFrom(c), raw)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sessionStateOf(v))
}
