package handlers

// The token lab (GET /lab): a page where people edit a token and watch the
// verifier refuse it. Page scripts never get a real credential. The access
// cookie stays HttpOnly; the lab instead mints, on request, a lab token:
// the caller's own claims, signed by the same current key, but for the
// audience tokens.LabAudience, which no guard accepts. Only POST
// /lab/verify does, and it runs the real Verifier's checks (same keys,
// pinned algorithms, precheck) with that one audience, then says which
// check refused the token and why.

import (
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/tokens"
	"tokenflow/views"
)

// cookieSizeLimit is what a browser promises to keep of one cookie, name
// and attributes included (RFC 6265 §6.1: at least 4096 bytes).
const cookieSizeLimit = 4096

// labCheck is one check of the verifier, as the lab names it.
type labCheck struct {
	// Name is the check, in the words of the page.
	Name string
	// Readme is the README heading that explains it.
	Readme string
}

// labChecks pair golang-jwt's sentinels (which every Verify error wraps)
// with the check that raised them, most specific first.
var labChecks = []struct {
	err   error
	check labCheck
}{
	{tokens.ErrUnknownKid, labCheck{"kid", "Lab: kid"}},
	{jwt.ErrTokenMalformed, labCheck{"format", "Lab: format"}},
	{jwt.ErrTokenUnverifiable, labCheck{"key and algorithm", "Lab: key and algorithm"}},
	{jwt.ErrTokenSignatureInvalid, labCheck{"signature", "Lab: signature"}},
	{jwt.ErrTokenExpired, labCheck{"expiry (exp)", "Lab: expiry"}},
	{jwt.ErrTokenNotValidYet, labCheck{"not before (nbf)", "Lab: time claims"}},
	{jwt.ErrTokenUsedBeforeIssued, labCheck{"issued at (iat) in the future", "Lab: time claims"}},
	{jwt.ErrTokenInvalidAudience, labCheck{"audience (aud)", "Lab: audience"}},
	{jwt.ErrTokenInvalidIssuer, labCheck{"issuer (iss)", "Lab: issuer"}},
	{jwt.ErrTokenRequiredClaimMissing, labCheck{"required claims", "Lab: required claims"}},
}

// labCheckOf names the check that refused a token with err.
func labCheckOf(err error) labCheck {
	for _, c := range labChecks {
		if errors.Is(err, c.err) {
			return c.check
		}
	}
	return labCheck{"other", "Lab: format"}
}

// labVerdict is the answer of POST /lab/verify.
type labVerdict struct {
	Valid bool `json:"valid"`
	// Error and Message are what /api/me answers for the same failure
	// (Message is the RFC 6750 error_description).
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	// Check, Reason and Readme say what /api/me keeps to itself: which
	// check refused the token, golang-jwt's or the precheck's own words
	// (they hold no secret, only what the token itself says), and where
	// the README explains it.
	Check  string `json:"check,omitempty"`
	Reason string `json:"reason,omitempty"`
	Readme string `json:"readme,omitempty"`
	// Claims and ExpiresIn describe a token that passed.
	Claims    *tokens.Claims `json:"claims,omitempty"`
	ExpiresIn int64          `json:"expires_in,omitempty"`
}

// labToken is the answer of POST /lab/token.
type labToken struct {
	Token     string    `json:"token"`
	Audience  string    `json:"aud"`
	ExpiresAt time.Time `json:"expires_at"`
	Bytes     int       `json:"bytes"`
}

// lab is GET /lab.
func (h *handler) lab(c echo.Context) error {
	cl := httpx.ClaimsFrom(c)
	raw := httpx.RawTokenFrom(c)
	v := views.LabView{
		Nav:             views.Nav{Username: cl.Username},
		Token:           inspectToken(raw),
		TokenBytes:      len(raw),
		CookieBytes:     len(h.cookieNames.access) + 1 + len(raw),
		CookieLimit:     cookieSizeLimit,
		ClaimUsername:   cl.Username,
		LabAudience:     tokens.LabAudience,
		LabTTL:          tokens.LabTokenTTL,
		AccessExpiresAt: cl.ExpiresAt.Time,
		Now:             h.now(),
		Asymmetric:      h.keys != nil,
	}
	user, err := h.store.UserByID(c.Request().Context(), cl.Subject)
	if err != nil {
		return err
	}
	v.StoreUsername = user.Username
	return render(c, http.StatusOK, views.LabPage(v))
}

// labToken is POST /lab/token: a lab token of the caller's own claims.
func (h *handler) mintLabToken(c echo.Context) error {
	cl := httpx.ClaimsFrom(c)
	raw, claims, err := h.labTokens.Issue(cl.Subject, cl.Username, cl.SessionID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, labToken{Token: raw, Audience: tokens.LabAudience, ExpiresAt: claims.ExpiresAt.Time, Bytes: len(raw)})
}

// verifyLabToken is POST /lab/verify with JSON {"token": "…"}. A token
// that passes gets 200; one that fails gets what /api/me would answer
// (401, the same challenge), with the check and the reason beside it. It
// needs no login: a lab token opens nothing, and after "log out
// everywhere" the lab must still be able to show that a token outlives
// its session.
func (h *handler) verifyLabToken(c echo.Context) error {
	var body struct {
		Token string `json:"token"`
	}
	if err := c.Bind(&body); err != nil || body.Token == "" {
		return echo.NewHTTPError(http.StatusBadRequest, `Send JSON {"token": "<a lab token>"}.`)
	}
	cl, err := h.labVerifier.Verify(body.Token)
	if err != nil {
		desc := httpx.InvalidTokenDescription(err)
		check := labCheckOf(err)
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, httpx.InvalidTokenChallenge(desc))
		return c.JSON(http.StatusUnauthorized, labVerdict{
			Error: "invalid_token", Message: desc,
			Check: check.Name, Reason: err.Error(), Readme: check.Readme,
		})
	}
	return c.JSON(http.StatusOK, labVerdict{Valid: true, Claims: cl, ExpiresIn: int64(cl.ExpiresAt.Sub(h.now()).Seconds())})
}
