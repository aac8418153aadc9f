package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"tokenflow/internal/testkit"
	"tokenflow/signingkeys"
	"tokenflow/tokens"
)

// With no settings the server signs with ES256, publishes the current and
// the next key, and the keys command works on the same store.
func TestDefaultSigningIsES256WithPublishedKeys(t *testing.T) {
	vars := testEnv(t)
	base, _, stop := startInProcess(t, vars)
	defer stop()
	c := newClient(t)
	register(t, c, base, "keys", "a long password")
	if got := status(t, c, http.MethodGet, base+"/api/me"); got != http.StatusOK {
		t.Fatalf("/api/me: %d", got)
	}
	res := response(t, http.MethodHead, base+"/.well-known/jwks.json")
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("JWKS: %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	kids := testkit.JWKSKids(t, base)
	if len(kids) != 2 {
		t.Fatalf("JWKS kids %v, want the current and the next key", kids)
	}

	getenv := func(k string) string { return vars[k] }
	var out bytes.Buffer
	if err := Keys(context.Background(), []string{"list"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"current", "next", "ES256", kids[0], kids[1]} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("keys list lacks %q:\n%s", want, out.String())
		}
	}
	if err := Keys(context.Background(), []string{"rotate"}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Keys(context.Background(), []string{"list"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "previous") || strings.Count(out.String(), "ES256") != 3 {
		t.Fatalf("after rotate:\n%s", out.String())
	}
	if err := Keys(context.Background(), []string{"revoke", "no-such-kid"}, getenv, io.Discard); !errors.Is(err, signingkeys.ErrUnknownKid) {
		t.Fatalf("revoke of an unknown kid: %v", err)
	}
	for _, args := range [][]string{nil, {"nope"}, {"revoke"}, {"list", "extra"}} {
		if err := Keys(context.Background(), args, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("keys %v: %v, want usage", args, err)
		}
	}
}

func TestKeysCommandRefusesHS256AndAnotherKeyEncryptionKey(t *testing.T) {
	vars := testEnv(t)
	getenv := func(k string) string { return vars[k] }
	if err := Keys(context.Background(), []string{"list"}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	vars["KEY_ENCRYPTION_KEY"] = strings.Repeat("x", 40)
	if err := Keys(context.Background(), []string{"list"}, getenv, io.Discard); !errors.Is(err, signingkeys.ErrUnsealable) {
		t.Fatalf("keys list with another KEY_ENCRYPTION_KEY: %v", err)
	}
	vars["JWT_ALG"] = tokens.AlgHS256
	if err := Keys(context.Background(), []string{"list"}, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "HS256") {
		t.Fatalf("keys under HS256: %v", err)
	}
}

// HS256 still works as before, with no JWKS.
func TestHS256HasNoJWKS(t *testing.T) {
	vars := testEnv(t)
	vars["JWT_ALG"] = tokens.AlgHS256
	base, _, stop := startInProcess(t, vars)
	defer stop()
	if got := status(t, http.DefaultClient, http.MethodGet, base+"/.well-known/jwks.json"); got != http.StatusNotFound {
		t.Fatalf("JWKS under HS256: %d", got)
	}
	c := newClient(t)
	register(t, c, base, "hsuser", "a long password")
	if got := status(t, c, http.MethodGet, base+"/api/me"); got != http.StatusOK {
		t.Fatalf("/api/me: %d", got)
	}
}

// A revocation is incident response: the operator must not be told the
// key is dead everywhere in seconds when gateways and services keep
// verifying with their cached JWKS until JWKS_MAX_AGE has passed.
func TestKeysRevokeSaysHowLongCachedJWKSStillVerify(t *testing.T) {
	vars := testEnv(t)
	vars["JWKS_MAX_AGE"] = "10m"
	vars["JWT_KEY_ROTATION"] = "720h"
	getenv := func(k string) string { return vars[k] }
	var out bytes.Buffer
	if err := Keys(context.Background(), []string{"list"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	kid := strings.Fields(strings.Split(out.String(), "\n")[1])[0]
	out.Reset()
	if err := Keys(context.Background(), []string{"revoke", kid}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "10m0s") || !strings.Contains(out.String(), "JWKS_MAX_AGE") {
		t.Fatalf("revoke says %q; want how long a gateway's cached JWKS (JWKS_MAX_AGE, 10m0s) still verifies", out.String())
	}
}

// The keys command is another process: what it changes reaches the
// running server through the store, at its next poll, and the server
// counts what its keyring took in, not as changes it made itself.
func TestMetricsCountKeyChangesTheKeysCommandMade(t *testing.T) {
	vars := testEnv(t)
	base, metricsURL := startWithMetrics(t, Options{}, vars)
	getenv := func(k string) string { return vars[k] }
	seen := func(change string) func() bool {
		return func() bool {
			return metricValue(t, metricsURL, `tokenflow_signing_key_changes_seen_total{change="`+change+`"}`) == 1
		}
	}

	if err := Keys(context.Background(), []string{"rotate"}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the server to count the rotation", seen("rotation"))
	var out bytes.Buffer
	if err := Keys(context.Background(), []string{"list"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	var previous string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "previous" {
			previous = f[0]
		}
	}
	if previous == "" {
		t.Fatalf("no previous key after rotate:\n%s", out.String())
	}
	if err := Keys(context.Background(), []string{"revoke", previous}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the server to count the revocation", seen("revocation"))
	testkit.WaitFor(t, "the revoked key to leave the JWKS", func() bool { return !slices.Contains(testkit.JWKSKids(t, base), previous) })
	for _, kind := range []string{"scheduled", "command", "revocation"} {
		if got := metricValue(t, metricsURL, `tokenflow_signing_key_rotations_total{kind="`+kind+`"}`); got != 0 {
			t.Errorf("the server counted the command's change as its own %s: %v", kind, got)
		}
	}
	if got := metricValue(t, metricsURL, `tokenflow_signing_key_changes_seen_total{change="rotation"}`); got != 1 {
		t.Errorf("rotations seen: %v, want 1 (revoking a previous key rotates nothing)", got)
	}
}
