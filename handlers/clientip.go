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

// maxUserAgent is how much of a User-Agent is kept, in bytes.
const maxUserAgent = 256

// client describes the caller for session rows and events, as text every
// store keeps: net/http passes on header bytes that are not UTF-8
// (obs-text), which PostgreSQL refuses, so the User-Agent is made valid
// first and then cut at a character boundary. The address is one the IP
// extractor parsed.
func client(c echo.Context) store.Client {
	ua := strings.ToValidUTF8(c.Request().UserAgent(), "")
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "") // drops a character the cut split
	}
	return store.Client{IP: c.RealIP(), UserAgent: ua}
}
