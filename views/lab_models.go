package views

import "time"

// LabView is the token lab (GET /lab). It carries no working token: Token
// stops at a signature preview, and the lab token the page edits is minted
// by POST /lab/token for an audience no guard accepts.
type LabView struct {
	Nav   Nav
	Token TokenParts // the caller's access token, for display
	// TokenBytes is the access token's length; CookieBytes the access
	// cookie's name=value, against CookieLimit.
	TokenBytes, CookieBytes, CookieLimit int
	// ClaimUsername is the username in the token, StoreUsername the
	// store's current one: they differ until the next refresh.
	ClaimUsername, StoreUsername string
	LabAudience                  string
	LabTTL                       time.Duration
	AccessExpiresAt              time.Time
	Now                          time.Time
	// Asymmetric: the keys are published (JWKS), so the page can try
	// HS256 signed with a public key.
	Asymmetric bool
}
