package handlers

import (
	"strings"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/store"
)

// isHTTPS: see httpx.TrustedProxies.IsHTTPS.
func (h *handler) isHTTPS(c echo.Context) bool {
	return httpx.TrustedProxies(h.settings.TrustedProxies).IsHTTPS(c)
}

// client describes the caller for session rows and events.
func client(c echo.Context) store.Client {
	ua := c.Request().UserAgent()
	if len(ua) > 256 {
		ua = strings.ToValidUTF8(ua[:256], "")
	}
	return store.Client{IP: c.RealIP(), UserAgent: ua}
}
