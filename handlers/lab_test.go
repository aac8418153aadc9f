package handlers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokenflow/httpx"
	"tokenflow/tokens"
)

// fetchJSON is what static/lab.js does: a same-origin fetch with a JSON body.
func (b *browser) fetchJSON(method, path string, body any) *httptest.ResponseRecorder {
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			panic(err)
		}
	}
	r := httptest.NewRequest(method, path, &buf)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(r)
}

// mintLab gets a lab token through POST /lab/token.
func mintLab(t *testing.T, b *browser) string {
	t.Helper()
	w := b.fetchJSON(http.MethodPost, "/lab/token", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("POST /lab/token = %d: %s", w.Code, w.Body)
	}
	var got labToken
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	return got.Token
}

// labVerify sends token to POST /lab/verify.
func labVerify(t *testing.T, b *browser, token string) (int, labVerdict, http.Header) {
	t.Helper()
	w := b.fetchJSON(http.MethodPost, "/lab/verify", map[string]string{"token": token})
	var v labVerdict
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("POST /lab/verify = %d, not JSON: %s", w.Code, w.Body)
	}
	return w.Code, v, w.Header()
}

// jwtParts splits a token into its decoded header and payload (as maps)
// and its signature segment.
func jwtParts(t *testing.T, token string) (map[string]any, map[string]any, string) {
	t.Helper()
	seg := strings.Split(token, ".")
	decode := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return decode(seg[0]), decode(seg[1]), seg[2]
}

// firstJWK is the JWKS's first key as the page fetches it: its JSON bytes
// are the "secret" of the HS256 key-confusion attack.
func firstJWK(t *testing.T, b *browser) []byte {
	t.Helper()
	w := b.get(JWKSPath)
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || len(doc.Keys) == 0 {
		t.Fatalf("JWKS = %d: %s", w.Code, w.Body)
	}
	return doc.Keys[0]
}

func hs256(key []byte, signingInput string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signingInput))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestLabVerify sends every edit the lab page offers (and a few more) to
// POST /lab/verify and checks the check that refused it, the reason, and
// that the answer is what /api/me would say (401 and its challenge).
func TestLabVerify(t *testing.T) {
	withKeys, ring := withES256Keys(t)
	app := newTestApp(t, withKeys)
	b := app.mustRegister(t, "labuser", "correct horse battery")
	lab := mintLab(t, b)
	header, payload, sig := jwtParts(t, lab)
	seg := strings.Split(lab, ".")
	jwk := firstJWK(t, b)

	edit := func(h, p map[string]any) (map[string]any, map[string]any) {
		hc, pc := map[string]any{}, map[string]any{}
		for k, v := range header {
			hc[k] = v
		}
		for k, v := range payload {
			pc[k] = v
		}
		for k, v := range h {
			hc[k] = v
		}
		for k, v := range p {
			pc[k] = v
		}
		return hc, pc
	}
	resign := func(h, p map[string]any, sign func(string) string) string {
		hc, pc := edit(h, p)
		input := segment(t, hc) + "." + segment(t, pc)
		return input + "." + sign(input)
	}
	// signedBy signs a genuine lab-audience token on the same keys with
	// another issuer name or clock: the signature holds, a claim check
	// must refuse it.
	signedBy := func(issuer string, shift time.Duration) string {
		i, err := tokens.NewKeyringIssuer(ring, tokens.IssuerConfig{
			Issuer: issuer, Audience: tokens.LabAudience, TTL: time.Hour,
			Now: func() time.Time { return app.clock.Now().Add(shift) },
		})
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := i.Issue(payload["sub"].(string), "labuser", payload["sid"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	keepSig := func(string) string { return sig }
	noSig := func(string) string { return "" }
	withPublicKey := func(input string) string { return hs256(jwk, input) }

	tests := []struct {
		name       string
		token      func() string
		check      string
		reason     string // in the library's reason
		expiredMsg bool
	}{
		{"nok, claim edited (sub)", func() string { return resign(nil, map[string]any{"sub": "someone-else"}, keepSig) }, "signature", "signature is invalid", false},
		{"nok, alg none, signature stripped", func() string { return resign(map[string]any{"alg": "none"}, nil, noSig) }, "signature", "signing method none is invalid", false},
		{"nok, HS256 signed with the public JWK", func() string { return resign(map[string]any{"alg": "HS256"}, nil, withPublicKey) }, "key and algorithm", "is not the key's ES256", false},
		{"nok, HS256 with the public JWK, no kid", func() string { return resign(map[string]any{"alg": "HS256", "kid": nil}, nil, withPublicKey) }, "key and algorithm", "unverifiable", false},
		{"nok, kid changed", func() string { return resign(map[string]any{"kid": "attacker-key"}, nil, keepSig) }, "kid", "unknown kid", false},
		{"nok, key in the header (jwk)", func() string { return resign(map[string]any{"jwk": json.RawMessage(jwk)}, nil, withPublicKey) }, "key and algorithm", "never from the token", false},
		{"nok, signature stripped", func() string { return seg[0] + "." + seg[1] + "." }, "signature", "signature is invalid", false},
		{"nok, signature segment removed", func() string { return seg[0] + "." + seg[1] }, "format", "3 segments", false},
		{"nok, typ dropped", func() string { return resign(map[string]any{"typ": nil}, nil, keepSig) }, "key and algorithm", `typ is not "at+jwt"`, false},
		{"nok, exp as a string", func() string { return resign(nil, map[string]any{"exp": "9999999999"}, keepSig) }, "format", "not a JSON number", false},
		{"nok, grown past 8 KB", func() string {
			return resign(nil, map[string]any{"padding": strings.Repeat("x", tokens.MaxTokenLength)}, keepSig)
		}, "format", "limit 8192", false},
		{"nok, signed by our key for another issuer", func() string { return signedBy("someone-else", 0) }, "issuer (iss)", "token has invalid issuer", false},
		{"nok, issued in the future", func() string { return signedBy("tokenflow", time.Hour) }, "issued at (iat) in the future", "token used before issued", false},
		{"nok, the real access token", func() string { return b.cookie(AccessCookie) }, "audience (aud)", "token has invalid audience", false},
		{"nok, expired", func() string { return lab }, "expiry (exp)", "token is expired", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.expiredMsg {
				// Past exp and the one-second leeway; back afterwards.
				wait := tokens.LabTokenTTL + 2*time.Second
				app.clock.Advance(wait)
				defer app.clock.Advance(-wait)
			}
			code, v, h := labVerify(t, b, tt.token())
			if code != http.StatusUnauthorized || v.Valid {
				t.Fatalf("status %d valid %v, want 401: %+v", code, v.Valid, v)
			}
			if v.Check != tt.check {
				t.Errorf("check %q, want %q (reason %q)", v.Check, tt.check, v.Reason)
			}
			if !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", v.Reason, tt.reason)
			}
			if !strings.HasPrefix(v.Readme, "Lab: ") {
				t.Errorf("readme %q", v.Readme)
			}
			wantMsg := "the access token is invalid"
			if tt.expiredMsg {
				wantMsg = "the access token expired"
			}
			if v.Message != wantMsg || h.Get("WWW-Authenticate") != httpx.InvalidTokenChallenge(wantMsg) {
				t.Errorf("message %q, challenge %q: not what /api/me says", v.Message, h.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("ok, the unchanged lab token", func(t *testing.T) {
		code, v, _ := labVerify(t, b, lab)
		if code != http.StatusOK || !v.Valid || v.Claims == nil {
			t.Fatalf("status %d: %+v", code, v)
		}
		if v.Claims.Username != "labuser" || v.Claims.Audience[0] != tokens.LabAudience || v.ExpiresIn != int64(tokens.LabTokenTTL.Seconds()) {
			t.Errorf("claims %+v, expires in %d", v.Claims, v.ExpiresIn)
		}
		_, real, _ := jwtParts(t, b.cookie(AccessCookie))
		if v.Claims.Subject != real["sub"] || v.Claims.SessionID != real["sid"] {
			t.Errorf("lab claims %+v are not the access token's %v", v.Claims, real)
		}
	})
	t.Run("ok, the unchanged lab token outlives log out everywhere", func(t *testing.T) {
		if w := b.post("/auth/logout", map[string][]string{"scope": {scopeGlobal}}); w.Code != http.StatusSeeOther {
			t.Fatalf("logout = %d", w.Code)
		}
		if code, _, _ := labVerify(t, app.browser(), lab); code != http.StatusOK {
			t.Fatalf("after logout everywhere: %d, want 200 until exp", code)
		}
	})
}

// TestLabTokenOpensNothing: a lab token, as Bearer or as the access cookie,
// is refused by every route behind the guard, which is what makes handing
// it to page script safe. The routes come from the router, so a guarded
// route added later is covered too.
func TestLabTokenOpensNothing(t *testing.T) {
	app := newTestApp(t)
	b := app.mustRegister(t, "labuser", "correct horse battery")
	lab := mintLab(t, b)
	// Unguarded by design (see routes.go).
	public := map[string]bool{
		"/": true, "/healthz": true, "/readyz": true, "/how-it-works": true, "/static/*": true,
		JWKSPath: true, "/.well-known/oauth-authorization-server": true,
		"/auth/login": true, "/auth/register": true, "/auth/refresh": true, "/auth/logout": true,
		"/lab/verify": true,
	}
	guarded := 0
	for _, r := range app.e.Routes() {
		if public[r.Path] || r.Method == echoRouteNotFound {
			continue
		}
		guarded++
		path := strings.ReplaceAll(r.Path, ":id", b.cookie(AccessCookie)[:4])
		for _, how := range []string{"bearer", "cookie"} {
			t.Run(r.Method+" "+r.Path+" "+how, func(t *testing.T) {
				req := httptest.NewRequest(r.Method, path, nil)
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				req.Header.Set("Accept", "application/json")
				if how == "bearer" {
					req.Header.Set("Authorization", "Bearer "+lab)
				} else {
					req.AddCookie(&http.Cookie{Name: AccessCookie, Value: lab})
				}
				w := httptest.NewRecorder()
				app.e.ServeHTTP(w, req)
				if w.Code < 300 || (w.Code == http.StatusSeeOther && !strings.HasPrefix(w.Header().Get("Location"), "/auth/login")) {
					t.Errorf("%s %s with a lab token (%s) = %d, Location %q", r.Method, path, how, w.Code, w.Header().Get("Location"))
				}
			})
		}
	}
	if guarded < 6 {
		t.Fatalf("only %d guarded routes found", guarded)
	}
}

// echoRouteNotFound is the method Echo lists its catch-all routes under.
const echoRouteNotFound = "echo_route_not_found"

// TestLabPage: the page needs a live session, shows the caveats (size,
// stale claim) and never carries a working token.
func TestLabPage(t *testing.T) {
	app := newTestApp(t)
	if w := app.browser().get("/lab"); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/login") {
		t.Fatalf("GET /lab logged out = %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := app.browser().fetchJSON(http.MethodPost, "/lab/token", nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("POST /lab/token logged out = %d", w.Code)
	}
	b := app.mustRegister(t, "labuser", "correct horse battery")
	w := b.get("/lab")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /lab = %d", w.Code)
	}
	body := w.Body.String()
	access := b.cookie(AccessCookie)
	sig := access[strings.LastIndex(access, ".")+1:]
	if strings.Contains(body, sig) {
		t.Error("the page carries the access token's signature")
	}
	for _, want := range []string{
		`data-testid="claim-username">labuser<`, `data-testid="store-username">labuser<`,
		"of the 4096 bytes", tokens.LabAudience, `src="/static/lab.js"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if !strings.Contains(body, "Your access token is "+strconv.Itoa(len(access))+" bytes") {
		t.Errorf("page does not give the token's size (%d bytes)", len(access))
	}
	if strings.Contains(body, `data-edit="hs256"`) {
		t.Error("HS256 server offers the key-confusion edit, but it has no public key")
	}
}

// TestLabVerifyBadInput: no token, or no JSON, is a 400, never a 500.
func TestLabVerifyBadInput(t *testing.T) {
	app := newTestApp(t)
	for _, body := range []string{"", "{", `{"token":""}`, `{"token":5}`, "[]"} {
		r := httptest.NewRequest(http.MethodPost, "/lab/verify", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		w := httptest.NewRecorder()
		app.e.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest {
			t.Errorf("body %q: %d, want 400", body, w.Code)
		}
	}
}

// TestLabInProduction: the lab is no development tool. It exists in
// production, where it still hands out lab tokens only.
func TestLabInProduction(t *testing.T) {
	prod := newTestApp(t, func(d *testDeps) { d.Settings.Production = true })
	b := prod.mustRegister(t, "prodlab", "correct horse battery")
	if w := b.get("/lab"); w.Code != http.StatusOK {
		t.Fatalf("GET /lab in production = %d", w.Code)
	}
	lab := mintLab(t, b)
	if code, v, _ := labVerify(t, b, lab); code != http.StatusOK || v.Claims.Audience[0] != tokens.LabAudience {
		t.Fatalf("lab token in production: %d %+v", code, v)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+lab)
	w := httptest.NewRecorder()
	prod.e.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("/api/me with a lab token in production = %d", w.Code)
	}
}

// TestLabReadmeSectionsExist: every README section the lab names is a
// heading of the README, so the page never sends people to nothing.
func TestLabReadmeSectionsExist(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{labCheckOf(errors.New("none of the sentinels")).Readme}
	for _, c := range labChecks {
		names = append(names, c.check.Readme)
	}
	for _, name := range names {
		if !strings.Contains(string(readme), "\n#### "+name+"\n") {
			t.Errorf("README has no heading %q", "#### "+name)
		}
	}
}
