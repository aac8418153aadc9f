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
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/handlers"
)

// drillClock is the wall clock plus an offset the test moves: one clock
// for the auth server's tokens and the verifiers' checks and JWKS caches.
type drillClock struct{ offset atomic.Int64 }

func (c *drillClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *drillClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

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
	clock := &drillClock{}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- RunStackWith(ctx, Options{Now: clock.Now}, getenv, io.Discard, logs, func(u string) { ready <- u })
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("RunStack: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatal("stack did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	})
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
	published := publishedKids(t, base)
	if len(published) != 2 || !slices.Contains(published, kid1) {
		t.Fatalf("JWKS %v, want the current key %s and the next one", published, kid1)
	}
	wantNotes(t, base, t1, http.StatusOK, "the first token")

	keys("rotate")
	// The auth server follows the store on its next poll: it then also
	// publishes a new next key.
	waitFor(t, "the auth server publishing the rotated keys", func() bool { return len(publishedKids(t, base)) == 3 })
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
	waitFor(t, "the auth server no longer publishing "+kid2, func() bool { return !slices.Contains(publishedKids(t, base), kid2) })
	// The gateway's copy of the JWKS is younger than JWKS_MAX_AGE: the
	// revoked key still verifies there. This window is what JWKS_MAX_AGE
	// sets.
	wantNotes(t, base, t2, http.StatusOK, "the revoked key's token while the gateway's JWKS is fresh")

	clock.Advance(jwksMaxAge + time.Second)
	// The first request after max-age starts the refetch (and may still be
	// served from the old copy); once it is in, the token fails.
	waitFor(t, "the gateway refusing the revoked key's token", func() bool {
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

func publishedKids(t *testing.T, base string) []string {
	t.Helper()
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&doc) != nil {
		t.Fatalf("GET the JWKS: %d", res.StatusCode)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func refresh(t *testing.T, c *http.Client, base string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/refresh", nil)
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /auth/refresh: %d", res.StatusCode)
	}
}

// notesStatus is GET /api/notes at the gateway with the token as a bearer.
func notesStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/notes", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized && !strings.Contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("401 without an invalid_token challenge: %q", res.Header.Get("WWW-Authenticate"))
	}
	return res.StatusCode
}

func wantNotes(t *testing.T, base, token string, want int, what string) {
	t.Helper()
	if got := notesStatus(t, base, token); got != want {
		t.Fatalf("%s: GET /api/notes = %d, want %d", what, got, want)
	}
}

// waitFor polls cond until it holds; the auth server follows the key
// table within signingkeys.DefaultPollInterval, and a JWKS refetch takes
// a round trip.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
