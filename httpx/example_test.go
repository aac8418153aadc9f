package httpx_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/tokens"
)

// oneToken accepts the token "h.p.s" only.
type oneToken struct{}

func (oneToken) Verify(token string) (*tokens.Claims, error) {
	if token != "h.p.s" {
		return nil, errors.New("invalid")
	}
	return &tokens.Claims{Username: "ada"}, nil
}

// A service guards its routes with the same rules as the auth server:
// Bearer header or the access cookie, never the URL.
func ExampleGuardConfig() {
	guard, err := httpx.GuardConfig{
		Verifier:   oneToken{},
		CookieName: "tf_access_token",
		ErrorHandler: func(c echo.Context, err error) error {
			if httpx.TokenMissing(err) {
				return c.String(http.StatusUnauthorized, "no token")
			}
			return c.String(http.StatusUnauthorized, "bad token")
		},
	}.ToMiddleware()
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.GET("/me", func(c echo.Context) error {
		return c.String(http.StatusOK, httpx.ClaimsFrom(c).Username)
	}, guard)

	for _, header := range []string{"Authorization: Bearer h.p.s", "Authorization: Bearer h.p.x", "Cookie: tf_access_token=h.p.s", ""} {
		r := httptest.NewRequest(http.MethodGet, "/me?access_token=h.p.s", nil)
		if name, value, ok := strings.Cut(header, ": "); ok {
			r.Header.Set(name, value)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 ada
	// 401 bad token
	// 200 ada
	// 401 no token
}
