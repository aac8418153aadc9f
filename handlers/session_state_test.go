package handlers

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// stateMembers are the member names of GET /api/session's answer (and of
// the development expire tool's JSON answer), object by object, which
// static/app.js reads: decodeState fails on a member renamed, missing or
// added.
var stateMembers = map[string][]string{
	"":                {"session_id", "access_expires", "session_expires", "token", "events"},
	"access_expires":  {"at", "text"},
	"session_expires": {"at", "text"},
	"token":           {"header", "payload", "signature_preview", "header_json", "payload_json", "alg", "kid", "public_key", "jwks_url", "claims"},
	"token.claims[]":  {"name", "value", "meaning"},
	"events[]":        {"kind", "label", "at", "at_text", "ip", "device"},
}

// sessionStateJSON holds what the tests read of the answer; stateMembers
// pins all its names.
type sessionStateJSON struct {
	SessionID     string `json:"session_id"`
	AccessExpires struct {
		At   time.Time `json:"at"`
		Text string    `json:"text"`
	} `json:"access_expires"`
	Token struct {
		Header    string `json:"header"`
		Payload   string `json:"payload"`
		Alg       string `json:"alg"`
		Kid       string `json:"kid"`
		PublicKey bool   `json:"public_key"`
		JWKSURL   string `json:"jwks_url"`
		Claims    []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"claims"`
	} `json:"token"`
	Events []struct {
		Kind  string `json:"kind"`
		Label string `json:"label"`
	} `json:"events"`
}

// checkMembers fails t for each object in v, at path, whose member names
// are not those stateMembers lists for it.
func checkMembers(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		want, ok := stateMembers[path]
		if !ok {
			t.Errorf("an object at %q, want none there", path)
			return
		}
		if got := slices.Sorted(maps.Keys(v)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("members of %q: %q, want %q", path, got, want)
		}
		for name, member := range v {
			if path != "" {
				name = path + "." + name
			}
			checkMembers(t, name, member)
		}
	case []any:
		for _, e := range v {
			checkMembers(t, path+"[]", e)
		}
	}
}

func (s sessionStateJSON) claim(name string) string {
	for _, c := range s.Token.Claims {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func decodeState(t *testing.T, w *httptest.ResponseRecorder) sessionStateJSON {
	t.Helper()
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, Content-Type %q, want 200 JSON: %.300s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	var s sessionStateJSON
	var all any
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
		t.Fatalf("decoding %s: %v", w.Body.String(), err)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &all); err != nil {
		t.Fatalf("decoding %s: %v", w.Body.String(), err)
	}
	checkMembers(t, "", all)
	return s
}

func (b *browser) getJSON(path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Accept", "application/json")
	return b.do(r)
}

// assertNoToken fails when body carries a usable credential: the access
// token whole, its signature, or the refresh token. Header and payload are
// fine to show: without the signature they are not a token.
func assertNoToken(t *testing.T, what, body string, b *browser) {
	t.Helper()
	access, refresh := b.cookie(AccessCookie), b.cookie(RefreshCookie)
	sig := access[strings.LastIndexByte(access, '.')+1:]
	for name, secret := range map[string]string{"the access token": access, "its signature": sig, "the refresh token": refresh} {
		if secret != "" && strings.Contains(body, secret) {
			t.Errorf("%s contains %s", what, name)
		}
	}
}

// After a refresh, GET /api/session describes the new access token (new
// jti and exp), the later expiry and a timeline with the refresh in it, so
// the dashboard can update in place; it never carries a token.
func TestSessionStateFollowsARefresh(t *testing.T) {
	a, b := newTestAppWithUser(t, "pat")

	before := decodeState(t, b.getJSON("/api/session"))
	if before.SessionID != a.sessionOf(t, b).ID || len(before.Events) != 1 || before.Events[0].Kind != "login" {
		t.Fatalf("state before the refresh: session %q, events %+v", before.SessionID, before.Events)
	}
	if before.claim("jti") == "" || before.claim("exp") == "" || before.Token.Header == "" || before.Token.Payload == "" {
		t.Fatalf("token part missing: %+v", before.Token)
	}
	assertNoToken(t, "GET /api/session", b.getJSON("/api/session").Body.String(), b)

	a.clock.Advance(10 * time.Minute) // the access token has expired
	if w := b.getJSON("/api/session"); w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("GET /api/session with an expired token: %d %q, want 401 invalid_token", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	w := b.fetchRefresh()
	if w.Code != http.StatusOK {
		t.Fatalf("refresh: %d", w.Code)
	}
	assertNoToken(t, "the refresh answer", w.Body.String(), b)

	after := decodeState(t, b.getJSON("/api/session"))
	assertNoToken(t, "GET /api/session after the refresh", b.getJSON("/api/session").Body.String(), b)
	if after.claim("jti") == before.claim("jti") || after.claim("exp") == before.claim("exp") {
		t.Errorf("jti %s and exp %s did not change after the refresh", after.claim("jti"), after.claim("exp"))
	}
	if !after.AccessExpires.At.After(before.AccessExpires.At) || after.AccessExpires.Text == before.AccessExpires.Text {
		t.Errorf("access expiry %v (%q), want later than %v", after.AccessExpires.At, after.AccessExpires.Text, before.AccessExpires.At)
	}
	if !strings.Contains(after.claim("exp"), after.AccessExpires.Text) {
		t.Errorf("exp claim %q does not show the expiry %q", after.claim("exp"), after.AccessExpires.Text)
	}
	if n := len(after.Events); n != 2 || after.Events[0].Kind != "refresh" || !strings.HasPrefix(after.Events[0].Label, "Refreshed") {
		t.Errorf("timeline after the refresh: %+v, want the refresh, then the login (newest first)", after.Events)
	}
}

func TestSessionStateNeedsAToken(t *testing.T) {
	a := newTestApp(t)
	w := a.browser().getJSON("/api/session")
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Bearer realm="tokenflow"` {
		t.Fatalf("anonymous GET /api/session: %d %q, want 401 with the bearer challenge", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// The dashboard shows the token's header and payload, but only the start
// of its signature: with all three parts in the page, any script running
// in it could copy a working token, which the HttpOnly cookie exists to
// prevent.
func TestDashboardNeverShowsAWholeToken(t *testing.T) {
	_, b := newTestAppWithUser(t, "pat")
	body := b.get("/dashboard").Body.String()
	access := b.cookie(AccessCookie)
	parts := strings.Split(access, ".")
	if !strings.Contains(body, parts[0]) || !strings.Contains(body, parts[1]) || !strings.Contains(body, parts[2][:8]+"…") {
		t.Errorf("the inspector lacks the header, the payload or the signature's start")
	}
	assertNoToken(t, "the dashboard", body, b)
}

// The development tool answers a fetch with the state of the expired token
// it set, so the page shows "expired" without a reload; a form post still
// gets the 303 (TestDevExpireAccess).
func TestDevExpireAccessAnswersAFetch(t *testing.T) {
	a, b := newTestAppWithUser(t, "ada")
	sessionID := a.sessionOf(t, b).ID
	r := httptest.NewRequest(http.MethodPost, "/dev/expire-access", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := b.do(r)
	st := decodeState(t, w)
	assertNoToken(t, "the expire answer", w.Body.String(), b)

	cl, _ := a.tokens.Verify(b.cookie(AccessCookie))
	if cl != nil {
		t.Fatal("the access cookie still verifies")
	}
	if !st.AccessExpires.At.Before(a.clock.Now()) {
		t.Errorf("access expires %v, want before now %v", st.AccessExpires.At, a.clock.Now())
	}
	parts := strings.Split(b.cookie(AccessCookie), ".")
	if st.Token.Payload != parts[1] {
		t.Error("the answer does not describe the expired token now in the cookie")
	}
	if st.SessionID != sessionID {
		t.Errorf("session %q", st.SessionID)
	}
}

// The inspector shows the token the guard accepted, not merely the cookie.
func TestInspectorShowsTheAcceptedToken(t *testing.T) {
	a, b := newTestAppWithUser(t, "inspect")
	expired := b.cookie(AccessCookie)
	a.clock.Advance(6 * time.Minute)
	b.fetchRefresh()
	fresh := b.cookie(AccessCookie)

	r := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
	r.AddCookie(&http.Cookie{Name: AccessCookie, Value: expired})
	r.Header.Set("Authorization", "Bearer "+fresh)
	w := httptest.NewRecorder()
	a.e.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	// The inspector shows the start of the signature (inspectToken).
	preview := func(tok string) string { return tok[strings.LastIndex(tok, ".")+1:][:signaturePreviewLength] }
	if !strings.Contains(w.Body.String(), preview(fresh)) || strings.Contains(w.Body.String(), preview(expired)) {
		t.Fatal("the inspector does not show the token that was accepted")
	}
}
