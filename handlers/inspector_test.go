package handlers

import (
	"html"
	"strings"
	"testing"
)

// The inspector names the key that signed the token: its kid and
// algorithm, and, for a public key, where verifiers find it (the JWKS);
// for HS256, that the same secret signs and verifies and is published
// nowhere. The page and GET /api/session (which app.js reads after a
// refresh) say the same.
func TestInspectorNamesTheSigningKey(t *testing.T) {
	withKeys, ring := withES256Keys(t)
	tests := []struct {
		name          string
		edit          []func(*testDeps)
		wantAlg       string
		wantKid       string
		wantJWKS      string
		wantInPage    string
		notInPage     string
		wantPublicKey bool
	}{
		{
			name: "ok, ES256: the current key's kid and the JWKS link", edit: []func(*testDeps){withKeys},
			wantAlg: "ES256", wantKid: ring.Load().Current().Kid(), wantJWKS: JWKSPath, wantPublicKey: true,
			wantInPage: `href="` + JWKSPath + `"`,
		},
		{
			name:    "ok, HS256: the secret's kid, no JWKS link",
			wantAlg: "HS256", wantJWKS: "",
			notInPage: `href="` + JWKSPath + `"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, tt.edit...)
			b := a.mustRegister(t, "keyholder", goodPassword)
			st := decodeState(t, b.getJSON("/api/session"))
			if st.Token.Alg != tt.wantAlg || st.Token.JWKSURL != tt.wantJWKS || st.Token.PublicKey != tt.wantPublicKey {
				t.Errorf("GET /api/session token: alg %q jwks %q public %v, want %q %q %v", st.Token.Alg, st.Token.JWKSURL, st.Token.PublicKey, tt.wantAlg, tt.wantJWKS, tt.wantPublicKey)
			}
			if st.Token.Kid == "" || (tt.wantKid != "" && st.Token.Kid != tt.wantKid) {
				t.Errorf("GET /api/session token kid %q, want %q", st.Token.Kid, tt.wantKid)
			}
			page := b.get("/dashboard").Body.String()
			key := section(t, page, `data-testid="signing-key"`)
			for _, want := range []string{`data-testid="key-kid">` + html.EscapeString(st.Token.Kid) + "<", `data-testid="key-alg">` + tt.wantAlg + "<", tt.wantInPage} {
				if !strings.Contains(key, want) {
					t.Errorf("the inspector's key part lacks %q:\n%s", want, key)
				}
			}
			if tt.notInPage != "" && strings.Contains(key, tt.notInPage) {
				t.Errorf("the inspector's key part has %q:\n%s", tt.notInPage, key)
			}
			// Both cases are explained side by side; the one that applies
			// is marked.
			for _, want := range []string{`data-testid="explain-public-key"`, `data-testid="explain-hmac"`} {
				if !strings.Contains(key, want) {
					t.Errorf("the inspector lacks %s", want)
				}
			}
			applies := `data-testid="explain-hmac" data-applies="true"`
			if tt.wantPublicKey {
				applies = `data-testid="explain-public-key" data-applies="true"`
			}
			if !strings.Contains(key, applies) {
				t.Errorf("the inspector does not mark %s", applies)
			}
		})
	}
}

// section is the part of page from the element carrying attr to the end
// of its section.
func section(t *testing.T, page, attr string) string {
	t.Helper()
	i := strings.Index(page, attr)
	if i < 0 {
		t.Fatalf("the page has no element with %s", attr)
	}
	rest := page[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
