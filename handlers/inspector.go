package handlers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"tokenflow/tokens"
	"tokenflow/views"
)

// claimMeanings explain each claim on the dashboard's token inspector.
var claimMeanings = map[string]string{
	"iss":      "Issuer: who signed the token. The guard refuses any other issuer.",
	"sub":      "Subject: the user's id. Stable even if the username changes.",
	"aud":      "Audience: who the token is for. The guard refuses tokens meant for another service.",
	"exp":      "Expires: after this instant the token is refused, and the browser must refresh.",
	"iat":      "Issued at: when the token was signed.",
	"nbf":      "Not before: the token is refused until this instant.",
	"jti":      "JWT id: a random id unique to this token, handy in logs and for deny-lists.",
	"sid":      "Session id: the login this token belongs to; refresh and logout act on it.",
	"username": "Shown on pages; may go stale until the next refresh reissues the token.",
}

// signaturePreviewLength is how much of the signature the inspector shows:
// enough to see that there is one, far too little to use the token.
const signaturePreviewLength = 8

// inspectToken splits an already verified token into its parts for
// display. It decides nothing: the guard has verified the token before.
// The signature is cut short, so the result never carries a working token:
// it goes into the page and into JSON that page scripts read.
func inspectToken(raw string) views.TokenParts {
	p, err := tokens.Decode(raw)
	if err != nil {
		return views.TokenParts{}
	}
	sig := p.SignatureSegment
	if len(sig) > signaturePreviewLength {
		sig = sig[:signaturePreviewLength] + "…"
	}
	// The segments are substrings of raw: kept as they are, they would
	// keep the whole token, signature included, alive for as long as the
	// inspection is cached (inspections.go). Copies hold only what is shown.
	t := views.TokenParts{
		Header: strings.Clone(p.HeaderSegment), Payload: strings.Clone(p.PayloadSegment),
		SignaturePreview: strings.Clone(sig),
		HeaderJSON:       p.HeaderJSON, PayloadJSON: p.PayloadJSON,
	}
	t.Alg, _ = p.Header["alg"].(string)
	t.Kid, _ = p.Header["kid"].(string)
	if tokens.IsAsymmetric(t.Alg) {
		t.PublicKey, t.JWKSURL = true, JWKSPath
	}
	names := make([]string, 0, len(p.Payload))
	for k := range p.Payload {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return claimLess(names[i], names[j]) })
	for _, k := range names {
		t.Claims = append(t.Claims, views.ClaimView{Name: k, Value: claimValue(k, p.Payload[k]), Meaning: claimMeanings[k]})
	}
	return t
}

// claimRank orders the inspector's table: registered claims first, in the
// order RFC 7519 lists them, then ours; unknown claims last, by name.
var claimRank = map[string]int{"iss": 1, "sub": 2, "aud": 3, "exp": 4, "nbf": 5, "iat": 6, "jti": 7, "sid": 8, "username": 9}

func claimLess(a, b string) bool {
	ra, rb := claimRank[a], claimRank[b]
	if ra == 0 {
		ra = len(claimRank) + 1
	}
	if rb == 0 {
		rb = len(claimRank) + 1
	}
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// claimValue prints NumericDate claims with their human time beside them.
func claimValue(name string, v any) string {
	if n, ok := v.(json.Number); ok && (name == "exp" || name == "iat" || name == "nbf") {
		if secs, err := n.Int64(); err == nil {
			return fmt.Sprintf("%d (%s)", secs, views.FormatTime(time.Unix(secs, 0)))
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
