package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"tokenflow/tokens"
)

// withES256Keys replaces the test app's HS256 manager with one on an ES256
// keyring (a current and a next key), published as the JWKS.
func withES256Keys(t *testing.T) (func(*testDeps), *tokens.Keyring) {
	t.Helper()
	current, err := tokens.GenerateKey(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	next, err := tokens.GenerateKey(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	set, err := tokens.NewKeySet(current, next.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := tokens.NewKeyring(set)
	if err != nil {
		t.Fatal(err)
	}
	return func(d *testDeps) {
		tm, err := tokens.NewManager(tokens.Config{Keys: ring, Issuer: "tokenflow", Audience: "tokenflow", TTL: 5 * time.Minute, Now: d.Now})
		if err != nil {
			t.Fatal(err)
		}
		d.Tokens, d.ExpiredTokens, d.Keys = tm, nil, ring
		d.Settings.JWTIssuer = "tokenflow"
		d.Settings.JWKSMaxAge = 5 * time.Minute
	}, ring
}

func TestJWKSPublishesPublicKeysOnly(t *testing.T) {
	withKeys, ring := withES256Keys(t)
	app := newTestApp(t, withKeys)
	rec := app.browser().get(JWKSPath)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d", JWKSPath, rec.Code)
	}
	// Deliberately cacheable, overriding the no-store every other answer has.
	if got := rec.Header().Get("Cache-Control"); got != "public, max-age=300" {
		t.Fatalf("Cache-Control = %q, want public, max-age=300", got)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want the current and the next: %s", len(doc.Keys), rec.Body)
	}
	public := map[string]bool{"kty": true, "crv": true, "x": true, "y": true, "n": true, "e": true, "kid": true, "alg": true, "use": true}
	for _, k := range doc.Keys {
		for name := range k {
			if !public[name] {
				t.Errorf("key %v has member %q", k["kid"], name)
			}
		}
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" {
			t.Errorf("key %v", k)
		}
	}
	if doc.Keys[0]["kid"] != ring.Load().Verification().Keys()[0].Kid() {
		t.Errorf("JWKS kids %v", doc.Keys)
	}

	// A token the app signs carries a kid the JWKS lists, and typ at+jwt.
	b := app.mustRegister(t, "alice", "a long password")
	parts, err := tokens.Decode(b.cookie(AccessCookie))
	if err != nil {
		t.Fatal(err)
	}
	if parts.Header["typ"] != "at+jwt" || parts.Header["alg"] != "ES256" || !strings.Contains(rec.Body.String(), parts.Header["kid"].(string)) {
		t.Fatalf("token header %v, JWKS %s", parts.Header, rec.Body)
	}
	if me := b.get("/api/me"); me.Code != http.StatusOK {
		t.Fatalf("/api/me with an ES256 token = %d", me.Code)
	}
}

func TestJWKSIsNotFoundUnderHS256(t *testing.T) {
	app := newTestApp(t)
	rec := app.browser().get(JWKSPath)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET %s under HS256 = %d, want 404", JWKSPath, rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if strings.Contains(rec.Body.String(), testSecret) {
		t.Fatal("the secret is in the answer")
	}
}

func TestAuthorizationServerMetadata(t *testing.T) {
	withKeys, _ := withES256Keys(t)
	trusted := func(d *testDeps) { d.Settings.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }
	configured := func(d *testDeps) { d.Settings.PublicURL = "https://auth.example.com" }
	cases := []struct {
		name      string
		edit      []func(*testDeps)
		peer      string
		proto     string
		wantJWKS  string
		wantCache string
	}{
		{"ok, from the request", []func(*testDeps){withKeys}, "192.0.2.1:1234", "", "http://tokenflow.test" + JWKSPath, "no-store"},
		{"ok, https from a trusted proxy", []func(*testDeps){withKeys, trusted}, "10.1.2.3:1234", "https", "https://tokenflow.test" + JWKSPath, "no-store"},
		{"nok, https claimed by a client is not believed", []func(*testDeps){withKeys, trusted}, "192.0.2.1:1234", "https", "http://tokenflow.test" + JWKSPath, "no-store"},
		{"ok, configured public URL wins over Host", []func(*testDeps){withKeys, configured}, "192.0.2.1:1234", "", "https://auth.example.com" + JWKSPath, "public, max-age=300"},
		{"ok, HS256 has no jwks_uri", nil, "192.0.2.1:1234", "", "", "no-store"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp(t, tc.edit...)
			req := httptest.NewRequest(http.MethodGet, "http://tokenflow.test/.well-known/oauth-authorization-server", nil)
			req.RemoteAddr = tc.peer
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			rec := httptest.NewRecorder()
			app.e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			var doc map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc["issuer"] != app.settings.JWTIssuer || doc["jwks_uri"] != tc.wantJWKS {
				t.Fatalf("metadata %v, want jwks_uri %q", doc, tc.wantJWKS)
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.wantCache)
			}
		})
	}
}
