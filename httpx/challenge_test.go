package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"tokenflow/tokens"
)

// errVerifier refuses every token with err.
type errVerifier struct{ err error }

func (v errVerifier) Verify(string) (*tokens.Claims, error) { return nil, v.err }

// BearerChallenge is the one RFC 6750 answer of the app, the gateway and
// the services: exact header, JSON body, never cached, never quoting the
// verifier's error.
func TestBearerChallenge(t *testing.T) {
	const leaky = "kid ../../etc/passwd"
	tests := []struct {
		name, authorization, wantHeader, wantError string
		verifyErr                                  error
	}{
		{"no token", "", `Bearer realm="tokenflow"`, "unauthorized", errForged},
		{"a failing token", "Bearer a.b.c",
			`Bearer realm="tokenflow", error="invalid_token", error_description="the access token is invalid"`,
			"invalid_token", fmt.Errorf("%w: %s", tokens.ErrInvalidToken, leaky)},
		{"an expired token", "Bearer a.b.c",
			`Bearer realm="tokenflow", error="invalid_token", error_description="the access token expired"`,
			"invalid_token", fmt.Errorf("%w: %w", tokens.ErrInvalidToken, jwt.ErrTokenExpired)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mw, err := GuardConfig{Verifier: errVerifier{tc.verifyErr}, ErrorHandler: BearerChallenge}.ToMiddleware()
			if err != nil {
				t.Fatal(err)
			}
			e := echo.New()
			e.GET("/api", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, mw)
			r := httptest.NewRequest(http.MethodGet, "/api", nil)
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != tc.wantHeader {
				t.Errorf("%d %q, want 401 %q", w.Code, w.Header().Get("WWW-Authenticate"), tc.wantHeader)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			var body APIError
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != tc.wantError || body.Message == "" {
				t.Errorf("body %s (%v), want error %q with a message", w.Body.String(), err, tc.wantError)
			}
			if strings.Contains(w.Body.String()+w.Header().Get("WWW-Authenticate"), leaky) {
				t.Error("the answer quotes the verifier's error")
			}
		})
	}
}
