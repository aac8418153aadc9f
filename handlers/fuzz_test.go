package handlers

// Fuzz targets. Their seed corpus runs with every `go test`; explore with
//
//	go test -run='^$' -fuzz=FuzzSafeNext -fuzztime=30s ./handlers/
//	go test -run='^$' -fuzz=FuzzBearerToken -fuzztime=30s ./handlers/

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// FuzzSafeNext: whatever comes in, SafeNext returns "" or its input, and an
// accepted value is a one-slash local path that stays on our origin.
func FuzzSafeNext(f *testing.F) {
	for _, tc := range safeNextCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkLocalNext(t, in, SafeNext(in))
	})
}

// fuzzApp is the real router and the one token it accepts.
func fuzzApp(f *testing.F) (*testApp, string) {
	a := newTestApp(f)
	// Signed here rather than by tm.Issue, whose random jti would differ
	// in each fuzzing worker process: the corpus must mean the same
	// everywhere. tm.Verify accepting it is checked by the seed run.
	now := a.clock.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tokens.Claims{
		Username: "fuzzer", SessionID: "session-1",
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "tokenflow", Subject: "user-1", Audience: jwt.ClaimStrings{"tokenflow"},
			ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
			ID: "fuzz-jti",
		},
	}).SignedString([]byte(testSecret))
	if err != nil {
		f.Fatal(err)
	}
	return a, tok
}

// FuzzBearerToken sends arbitrary Authorization: Bearer values to
// GET /api/me: never a 5xx, and never a 200 for anything but the token the
// app issued (the clock stands still, so that token stays valid).
func FuzzBearerToken(f *testing.F) {
	app, issued := fuzzApp(f)
	parts := strings.Split(issued, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	for _, seed := range []string{
		issued,
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		b64([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"HS256","kid":"../../etc/passwd"}`)) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + b64([]byte(`{"exp":"9999999999","sub":"x","sid":"y","iat":1,"iss":"tokenflow","aud":"tokenflow"}`)) + "." + parts[2],
		issued + "=",
		" " + issued,
		strings.ToUpper(issued),
		strings.Repeat(".", 9000),
		"",
		"\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		r.Header["Authorization"] = []string{"Bearer " + tok}
		r.RemoteAddr = "203.0.113.7:5555"
		w := httptest.NewRecorder()
		app.e.ServeHTTP(w, r)
		switch {
		case w.Code >= 500:
			t.Fatalf("token %q: status %d", tok, w.Code)
		case w.Code == http.StatusOK && tok != issued:
			t.Fatalf("token %q was accepted but the app never issued it", tok)
		case w.Code != http.StatusOK && tok == issued:
			t.Fatalf("the issued token was refused: %d", w.Code)
		case w.Code != http.StatusOK && w.Code != http.StatusUnauthorized:
			t.Fatalf("token %q: status %d, want 200 or 401", tok, w.Code)
		}
	})
}
