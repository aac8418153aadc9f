package gateway_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/gateway"
	"tokenflow/httpx/jwkstest"
)

// Each guarded request is counted once, under the result its error names:
// a forged token is invalid_signature or unknown_kid, never ok.
func TestGatewayCountsEachVerificationByResult(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	attacker := jwkstest.NewKey(t)
	es := jwt.SigningMethodES256
	valid := jwkstest.Claims("victim", now)
	tests := []struct {
		name   string
		header http.Header
		want   gateway.VerifyResult
	}{
		{"ok, a token of the published key", bearer(jwkstest.Token(t, f.key, "u1", now)), gateway.VerifyOK},
		{"nok, no token", nil, gateway.VerifyMissing},
		{"nok, forged: attacker's key claiming the published kid", bearer(jwkstest.SignHeader(t, es, attacker.Private, map[string]any{"kid": f.key.Kid, "typ": "at+jwt"}, valid)), gateway.VerifyInvalidSignature},
		{"nok, forged: a kid never published", bearer(jwkstest.Token(t, attacker, "victim", now)), gateway.VerifyUnknownKid},
		{"nok, expired", bearer(jwkstest.Token(t, f.key, "u1", now.Add(-time.Hour))), gateway.VerifyExpired},
		{"nok, not a JWT", bearer("a.b.c"), gateway.VerifyMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.heard.take()
			f.get(t, "/api/notes", tc.header)
			if got := f.heard.take(); !slices.Equal(got, []gateway.VerifyResult{tc.want}) {
				t.Fatalf("heard %v, want [%s]", got, tc.want)
			}
		})
	}
	f.get(t, "/login", nil)
	if got := f.heard.take(); len(got) != 0 {
		t.Fatalf("an unguarded path was counted: %v", got)
	}
}
