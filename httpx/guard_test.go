package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"tokenflow/tokens"
)

// The tokens the fake verifier knows: one good, one it refuses.
const (
	goodToken = "aGVhZGVy.cGF5bG9hZA.c2lnbmF0dXJl"
	badToken  = "aGVhZGVy.cGF5bG9hZA.Zm9yZ2Vk"
	ownToken  = "aGVhZGVy.cGF5bG9hZA.b3RoZXI" // another genuine token, for the planted-cookie cases
)

var errForged = errors.New("forged")

// fakeVerifier accepts goodToken and ownToken, each as its own session.
type fakeVerifier struct{ calls int }

func (v *fakeVerifier) Verify(token string) (*tokens.Claims, error) {
	v.calls++
	switch token {
	case goodToken:
		return &tokens.Claims{SessionID: "s-good"}, nil
	case ownToken:
		return &tokens.Claims{SessionID: "s-own"}, nil
	}
	return nil, errForged
}

const testCookie = "tf_access_token"

// guardResult is what a request through the guard came to.
type guardResult struct {
	status  int
	session string // from ClaimsFrom; "" when the handler did not run
	raw     string // from RawTokenFrom
	missing bool   // TokenMissing of the error the ErrorHandler saw
	errSeen bool
}

func runGuard(t *testing.T, config GuardConfig, edit func(*http.Request)) guardResult {
	t.Helper()
	var res guardResult
	if config.Verifier == nil {
		config.Verifier = &fakeVerifier{}
	}
	config.ErrorHandler = func(c echo.Context, err error) error {
		res.errSeen, res.missing = true, TokenMissing(err)
		return c.NoContent(http.StatusUnauthorized)
	}
	mw, err := config.ToMiddleware()
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.GET("/p", func(c echo.Context) error {
		if cl := ClaimsFrom(c); cl != nil {
			res.session = cl.SessionID
		}
		res.raw = RawTokenFrom(c)
		return c.NoContent(http.StatusOK)
	}, mw)
	r := httptest.NewRequest(http.MethodGet, "/p", nil)
	edit(r)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	res.status = w.Code
	return res
}

func TestGuard(t *testing.T) {
	withCookie := GuardConfig{CookieName: testCookie}
	cookie := func(r *http.Request, v string) { r.AddCookie(&http.Cookie{Name: testCookie, Value: v}) }
	bearer := func(r *http.Request, v string) { r.Header.Set("Authorization", "Bearer "+v) }
	cases := []struct {
		name    string
		config  GuardConfig
		request func(*http.Request)
		want    guardResult // status, session, raw, missing, errSeen
	}{
		{"ok, bearer header", withCookie, func(r *http.Request) { bearer(r, goodToken) },
			guardResult{status: 200, session: "s-good", raw: goodToken}},
		{"ok, access cookie", withCookie, func(r *http.Request) { cookie(r, goodToken) },
			guardResult{status: 200, session: "s-good", raw: goodToken}},
		{"ok, identical duplicate cookies are one value", withCookie, func(r *http.Request) { cookie(r, goodToken); cookie(r, goodToken) },
			guardResult{status: 200, session: "s-good", raw: goodToken}},
		{"nok, nothing sent", withCookie, func(r *http.Request) {},
			guardResult{status: 401, missing: true, errSeen: true}},
		{"nok, token in the URL is never read", withCookie, func(r *http.Request) {
			r.URL.RawQuery = "token=" + goodToken + "&access_token=" + goodToken + "&jwt=" + goodToken
		}, guardResult{status: 401, missing: true, errSeen: true}},
		{"nok, forged bearer token", withCookie, func(r *http.Request) { bearer(r, badToken) },
			guardResult{status: 401, errSeen: true}},
		{"nok, forged cookie token", withCookie, func(r *http.Request) { cookie(r, badToken) },
			guardResult{status: 401, errSeen: true}},
		{"nok, two distinct cookies (tossing) are no credential", withCookie, func(r *http.Request) { cookie(r, ownToken); cookie(r, goodToken) },
			guardResult{status: 401, missing: true, errSeen: true}},
		{"nok, planted cookie first, genuine second", withCookie, func(r *http.Request) { cookie(r, goodToken); cookie(r, ownToken) },
			guardResult{status: 401, missing: true, errSeen: true}},
		{"nok, a cookie not shaped like a JWT counts as absent", withCookie, func(r *http.Request) { cookie(r, "not-a-jwt") },
			guardResult{status: 401, missing: true, errSeen: true}},
		{"nok, no CookieName: the cookie is not read", GuardConfig{}, func(r *http.Request) { cookie(r, goodToken) },
			guardResult{status: 401, missing: true, errSeen: true}},
		{"ok, skipper passes without claims", GuardConfig{Skipper: func(echo.Context) bool { return true }}, func(r *http.Request) {},
			guardResult{status: 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := runGuard(t, tc.config, tc.request); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGuardNeedsAVerifier(t *testing.T) {
	if _, err := (GuardConfig{CookieName: testCookie}).ToMiddleware(); err == nil {
		t.Fatal("a guard without a verifier was built")
	}
}

func TestAuthCookie(t *testing.T) {
	c := func(values ...string) echo.Context {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, v := range values {
			r.AddCookie(&http.Cookie{Name: testCookie, Value: v})
		}
		return echo.New().NewContext(r, httptest.NewRecorder())
	}
	if _, err := AuthCookie(c(), testCookie); !errors.Is(err, http.ErrNoCookie) {
		t.Errorf("none: %v", err)
	}
	if v, err := AuthCookie(c("a", "a"), testCookie); v != "a" || err != nil {
		t.Errorf("duplicates: %q %v", v, err)
	}
	if v, err := AuthCookie(c("a", "b"), testCookie); v != "" || !errors.Is(err, ErrConflictingCookies) {
		t.Errorf("conflict: %q %v", v, err)
	}
}

// jwtShaped decides which cookie values the guard looks at; anything else
// is no token (the login page, not the refresh interstitial).
func TestJWTShaped(t *testing.T) {
	segment := func(n int) string { return strings.Repeat("a", n) }
	atLimit := segment(tokens.MaxTokenLength-4) + ".b.c"
	tests := []struct {
		value string
		want  bool
	}{
		{"a.b.c", true},
		{"az.AZ.09", true},
		{"a-z.A_Z.0-9_", true},
		{atLimit, true},
		{atLimit + "c", false},
		{"", false},
		{"a.b", false},
		{"a.b.c.d", false},
		{"a..c", false},
		{".b.c", false},
		{"a.b.", false},
		{"a.b.c!", false},
		{"a.b.c=", false},
		{"a.b+.c", false},
		{"a.b/.c", false},
		{"a.b .c", false},
		{"a.b.c%00", false},
		{"a.b.\x00", false},
		{"a.b.\u00e9", false},
		{"`.b.c", false},
		{"{.b.c", false},
		{"@.b.c", false},
		{"[.b.c", false},
		{"/.b.c", false},
		{":.b.c", false},
	}
	for _, tc := range tests {
		if got := jwtShaped(tc.value); got != tc.want {
			t.Errorf("jwtShaped(%.20q, %d bytes) = %v, want %v", tc.value, len(tc.value), got, tc.want)
		}
	}
}

type requestMark struct{}

// contextVerifier accepts goodToken only from VerifyContext, given a
// context carrying requestMark: Verify, which has no request, refuses it.
type contextVerifier struct{ fakeVerifier }

func (v *contextVerifier) Verify(string) (*tokens.Claims, error) { return nil, errForged }

func (v *contextVerifier) VerifyContext(ctx context.Context, token string) (*tokens.Claims, error) {
	if ctx.Value(requestMark{}) == nil {
		return nil, errForged
	}
	return v.fakeVerifier.Verify(token)
}

// A verifier that may wait (the JWKS cache, for a fetch) is given the
// request's context, so a client that goes away stops the wait.
func TestGuardPassesTheRequestsContext(t *testing.T) {
	res := runGuard(t, GuardConfig{Verifier: &contextVerifier{}}, func(r *http.Request) {
		*r = *r.WithContext(context.WithValue(r.Context(), requestMark{}, true))
		r.Header.Set("Authorization", "Bearer "+goodToken)
	})
	if res.status != http.StatusOK || res.session != "s-good" {
		t.Fatalf("got %+v, want the token verified with the request's context", res)
	}
}
