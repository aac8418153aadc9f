package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tokenflow/handlers"
	"tokenflow/internal/testkit"
)

// The operator's key drill against a running stack, over HTTP, with the
// keys command on the same store: rotate (the old token passes until it
// expires, the next token carries the new kid, and the gateway verifies
// it without a restart, from the key it already held); then revoke the
// new kid (its token still passes at the gateway only until the
// gateway's copy of the JWKS is older than JWKS_MAX_AGE, then fails after
// that one refetch, while a token of the promoted key passes).
func TestStackRotationDrill(t *testing.T) {
	const ttl, jwksMaxAge = 10 * time.Minute, 2 * time.Minute
	vars := testEnv(t)
	vars["ACCESS_TOKEN_TTL"] = ttl.String()
	vars["ACCESS_TOKEN_LEEWAY"] = "0s"
	vars["JWKS_MAX_AGE"] = jwksMaxAge.String()
	getenv := func(k string) string { return vars[k] }
	clock := testkit.WallClock() // one clock for the auth server's tokens and the verifiers' checks and JWKS caches
	logs := &testkit.SyncBuffer{}
	testkit.LogOnFailure(t, "logs", logs)
	base := startStack(t, Options{Now: clock.Now}, vars, io.Discard, logs).URL
	keys := func(args ...string) {
		t.Helper()
		if err := Keys(context.Background(), args, getenv, io.Discard); err != nil {
			t.Fatalf("keys %v: %v", args, err)
		}
	}

	c := newClient(t)
	register(t, c, base, "operator", "correct horse battery staple")
	t1 := accessToken(t, c, base)
	kid1 := kidOf(t, t1)
	published := testkit.JWKSKids(t, base)
	if len(published) != 2 || !slices.Contains(published, kid1) {
		t.Fatalf("JWKS %v, want the current key %s and the next one", published, kid1)
	}
	wantNotes(t, base, t1, http.StatusOK, "the first token")

	keys("rotate")
	// The auth server follows the store on its next poll: it then also
	// publishes a new next key.
	testkit.WaitFor(t, "the auth server publishing the rotated keys", func() bool { return len(testkit.JWKSKids(t, base)) == 3 })
	wantNotes(t, base, t1, http.StatusOK, "the old key's token after the rotation")

	clock.Advance(ttl / 2)
	refresh(t, c, base)
	t2 := accessToken(t, c, base)
	kid2 := kidOf(t, t2)
	if kid2 == kid1 || !slices.Contains(published, kid2) {
		t.Fatalf("after the rotation the token's kid is %s; want the former next key (published before it signed: %v), not %s", kid2, published, kid1)
	}
	wantNotes(t, base, t2, http.StatusOK, "the new key's token at the gateway, not restarted")
	wantNotes(t, base, t1, http.StatusOK, "the old key's token before it expires")

	clock.Advance(ttl/2 + time.Second)
	wantNotes(t, base, t1, http.StatusUnauthorized, "the old key's token once it has expired")
	wantNotes(t, base, t2, http.StatusOK, "the new key's token")

	keys("revoke", kid2)
	testkit.WaitFor(t, "the auth server no longer publishing "+kid2, func() bool { return !slices.Contains(testkit.JWKSKids(t, base), kid2) })
	// The gateway's copy of the JWKS is younger than JWKS_MAX_AGE: the
	// revoked key still verifies there. This window is what JWKS_MAX_AGE
	// sets.
	wantNotes(t, base, t2, http.StatusOK, "the revoked key's token while the gateway's JWKS is fresh")

	clock.Advance(jwksMaxAge + time.Second)
	// The first request after max-age starts the refetch (and may still be
	// served from the old copy); once it is in, the token fails.
	testkit.WaitFor(t, "the gateway refusing the revoked key's token", func() bool {
		return notesStatus(t, base, t2) == http.StatusUnauthorized
	})
	refresh(t, c, base)
	t3 := accessToken(t, c, base)
	if kid3 := kidOf(t, t3); kid3 == kid2 || kid3 == kid1 {
		t.Fatalf("after revoking %s the token's kid is %s", kid2, kid3)
	}
	wantNotes(t, base, t3, http.StatusOK, "a token of the key promoted by the revocation")
}

func accessToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	access, _ := handlers.CookieNames(false)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == access {
			return ck.Value
		}
	}
	t.Fatal("no access cookie")
	return ""
}

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	var h struct {
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(raw, &h) != nil || h.Kid == "" {
		t.Fatalf("no kid in the token's header")
	}
	return h.Kid
}

func refresh(t *testing.T, c *http.Client, base string) {
	t.Helper()
	if got := status(t, c, http.MethodPost, base+"/auth/refresh"); got != http.StatusOK {
		t.Fatalf("POST /auth/refresh: %d", got)
	}
}

// notesStatus is GET /api/notes at the gateway with the token as a bearer.
func notesStatus(t *testing.T, base, token string) int {
	t.Helper()
	status, challenge := testkit.BearerStatus(t, base+"/api/notes", token)
	if status == http.StatusUnauthorized && !strings.Contains(challenge, "invalid_token") {
		t.Errorf("401 without an invalid_token challenge: %q", challenge)
	}
	return status
}

func wantNotes(t *testing.T, base, token string, want int, what string) {
	t.Helper()
	if got := notesStatus(t, base, token); got != want {
		t.Fatalf("%s: GET /api/notes = %d, want %d", what, got, want)
	}
}
