package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/store"
	"tokenflow/views"
)

// landing is GET /.
func (h *handler) landing(c echo.Context) error {
	return render(c, http.StatusOK, views.LandingPage(h.nav(c)))
}

// nav reads the access cookie, if any, only to choose the header links of a
// public page. Nothing is granted on this basis.
func (h *handler) nav(c echo.Context) views.Nav {
	cl := httpx.ClaimsFrom(c)
	if cl == nil {
		cl = h.accessCookieClaims(c)
	}
	if cl == nil {
		return views.Nav{}
	}
	return views.Nav{Username: cl.Username}
}

// dashboard is the protected GET /dashboard.
func (h *handler) dashboard(c echo.Context) error {
	raw := httpx.RawTokenFrom(c)
	v, err := h.dashboardView(c.Request().Context(), httpx.ClaimsFrom(c), raw)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, dashboardOf(c.Request().Context(), v))
}

// me is GET /api/me: the caller's verified claims as JSON, the bytes
// c.JSON would write (appendClaimsJSON), which still indents for ?pretty.
func (h *handler) me(c echo.Context) error {
	cl := httpx.ClaimsFrom(c)
	if c.Echo().Debug || c.Request().URL.RawQuery != "" && c.QueryParams().Has("pretty") {
		return c.JSON(http.StatusOK, cl)
	}
	return c.JSONBlob(http.StatusOK, appendClaimsJSON(make([]byte, 0, 512), cl))
}

// health is GET /healthz: 200 when the store answers.
func (h *handler) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		h.log.Error("health check failed", "error", err.Error())
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// eventLabels are the timeline's words for store events.
var eventLabels = map[string]string{
	store.EventLogin:         "Logged in: session and first refresh token created",
	store.EventRefresh:       "Refreshed: refresh token rotated, new access token",
	store.EventRefreshGrace:  "Refreshed again within the grace window (another tab)",
	store.EventReuseDetected: "Refresh token reused: session revoked",
	store.EventLogout:        "Logged out",
	store.EventRevoked:       "Revoked from another session",
	store.EventEvicted:       "Ended by a newer login: this account had too many sessions",
}

func eventViews(events []store.Event) []views.EventView {
	out := make([]views.EventView, 0, len(events))
	for _, e := range events {
		label := eventLabels[e.Kind]
		if label == "" {
			label = e.Kind
		}
		out = append(out, views.EventView{Kind: e.Kind, Label: label, At: e.At, IP: e.IP, Device: device(e.UserAgent)})
	}
	return out
}
