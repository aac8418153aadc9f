package handlers

// Discovery for verifiers: the public signing keys (JWKS, RFC 7517) and
// the authorization server metadata (RFC 8414) that points to them.

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
)

// JWKSPath is where the public keys are published.
const JWKSPath = "/.well-known/jwks.json"

// jwks publishes the public half of every key that verifies: the current
// one, the next one (before it signs), and previous ones whose tokens may
// still be alive. Under HS256 there is nothing public: 404. It is the
// same for every caller, so, unlike every other answer, caches may keep it
// for JWKS_MAX_AGE; a new key is published twice that long before it signs.
func (h *handler) jwks(c echo.Context) error {
	if h.keys == nil {
		return echo.ErrNotFound
	}
	doc := h.keys.Load().Verification().JWKS()
	c.Response().Header().Set(echo.HeaderCacheControl, publicMaxAge(h.settings.JWKSMaxAge))
	return c.JSON(http.StatusOK, doc)
}

// authorizationServerMetadata is the RFC 8414 document. issuer is the iss
// our tokens carry (JWT_ISSUER), so a verifier that checks one against the
// other agrees with ours. jwks_uri is absolute: from PUBLIC_URL, or else
// from this request's host and scheme (https only when the connection is
// TLS or a trusted proxy says so). A document derived from a request's
// Host header is not cached, so no cache keeps one a client chose.
func (h *handler) authorizationServerMetadata(c echo.Context) error {
	doc := struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri,omitempty"`
	}{Issuer: h.settings.JWTIssuer}
	base := h.settings.PublicURL
	if base == "" {
		scheme := "http"
		if httpx.TrustedProxies(h.settings.TrustedProxies).IsHTTPS(c) {
			scheme = "https"
		}
		base = scheme + "://" + c.Request().Host
	} else {
		c.Response().Header().Set(echo.HeaderCacheControl, publicMaxAge(h.settings.JWKSMaxAge))
	}
	if h.keys != nil {
		doc.JWKSURI = base + JWKSPath
	}
	return c.JSON(http.StatusOK, doc)
}

func publicMaxAge(d time.Duration) string {
	return fmt.Sprintf("public, max-age=%d", int(d/time.Second))
}
