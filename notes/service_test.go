package notes_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"tokenflow/httpx"
	"tokenflow/httpx/jwkstest"
	"tokenflow/notes"
	"tokenflow/tokens"
)

const accessCookie = "tf_access_token"

type fixture struct {
	e   *echo.Echo
	key jwkstest.Key
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{key: jwkstest.NewKey(t), now: time.Unix(1_800_000_000, 0)}
	srv := jwkstest.NewServer(t, f.key)
	clock := func() time.Time { return f.now }
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: srv.JWKSURL(), Now: clock, Go: func(fn func()) { fn() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifier, err := cache.Verifier(tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	st, err := notes.OpenStore(filepath.Join(t.TempDir(), "notes.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.e, err = notes.New(notes.Config{Store: st, Verifier: verifier, AccessCookie: accessCookie, Development: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// do sends a request as user (no token when user is ""), with extra
// headers written as given.
func (f *fixture) do(t *testing.T, user, method, path, contentType, body string, extra map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+jwkstest.Token(t, f.key, user, f.now))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range extra {
		req.Header[k] = []string{v}
	}
	w := httptest.NewRecorder()
	f.e.ServeHTTP(w, req)
	return w
}

func (f *fixture) create(t *testing.T, user, text string) notes.Note {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": text})
	w := f.do(t, user, http.MethodPost, "/api/notes", "application/json", string(body), nil)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var n notes.Note
	if err := json.Unmarshal(w.Body.Bytes(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) list(t *testing.T, user string) []notes.Note {
	t.Helper()
	w := f.do(t, user, http.MethodGet, "/api/notes", "", "", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	var list []notes.Note
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

func TestNotesPerUserIsolation(t *testing.T) {
	f := newFixture(t)
	aliceNote := f.create(t, "alice", "alice's secret")
	f.create(t, "bob", "bob's note")

	if got := f.list(t, "alice"); len(got) != 1 || got[0].Text != "alice's secret" || got[0].ID != aliceNote.ID {
		t.Fatalf("alice sees %+v", got)
	}
	if got := f.list(t, "bob"); len(got) != 1 || got[0].Text != "bob's note" {
		t.Fatalf("bob sees %+v", got)
	}
	if got := f.list(t, "carol"); len(got) != 0 {
		t.Fatalf("carol sees %+v", got)
	}

	// Bob cannot delete Alice's note: 404, as for a missing one, and it stays.
	if w := f.do(t, "bob", http.MethodDelete, "/api/notes/"+aliceNote.ID, "", "", nil); w.Code != http.StatusNotFound {
		t.Fatalf("bob deletes alice's note: %d", w.Code)
	}
	if w := f.do(t, "bob", http.MethodDelete, "/api/notes/missing", "", "", nil); w.Code != http.StatusNotFound {
		t.Fatalf("missing note: %d", w.Code)
	}
	if got := f.list(t, "alice"); len(got) != 1 {
		t.Fatalf("alice's note gone after bob's delete: %+v", got)
	}
	if w := f.do(t, "alice", http.MethodDelete, "/api/notes/"+aliceNote.ID, "", "", nil); w.Code != http.StatusNoContent {
		t.Fatalf("alice deletes her note: %d", w.Code)
	}
	if got := f.list(t, "alice"); len(got) != 0 {
		t.Fatalf("after delete alice sees %+v", got)
	}
}

func TestNotesBadInput(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, contentType, body string
		want                    int
	}{
		{"nok, no content type", "", `{"text":"a"}`, http.StatusUnsupportedMediaType},
		{"nok, form post", "application/x-www-form-urlencoded", `text=a`, http.StatusUnsupportedMediaType},
		{"nok, text/plain (a cross-site form could send it)", "text/plain", `{"text":"a"}`, http.StatusUnsupportedMediaType},
		{"nok, not JSON", "application/json", `{text:a}`, http.StatusBadRequest},
		{"nok, two objects", "application/json", `{"text":"a"}{"text":"b"}`, http.StatusBadRequest},
		{"nok, unknown field", "application/json", `{"text":"a","user_id":"bob"}`, http.StatusBadRequest},
		{"nok, text not a string", "application/json", `{"text":42}`, http.StatusBadRequest},
		{"nok, no text", "application/json", `{}`, http.StatusBadRequest},
		{"nok, JSON array", "application/json", `["a"]`, http.StatusBadRequest},
		{"nok, empty text", "application/json", `{"text":""}`, http.StatusUnprocessableEntity},
		{"nok, blank text", "application/json", `{"text":" \n\t "}`, http.StatusUnprocessableEntity},
		{"nok, too long", "application/json", `{"text":"` + strings.Repeat("é", notes.MaxTextLength+1) + `"}`, http.StatusUnprocessableEntity},
		{"nok, control character", "application/json", `{"text":"a\u0000b"}`, http.StatusUnprocessableEntity},
		{"nok, body too large", "application/json", `{"text":"` + strings.Repeat("a", 20<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"ok, longest text", "application/json; charset=utf-8", `{"text":"` + strings.Repeat("é", notes.MaxTextLength) + `"}`, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, "alice", http.MethodPost, "/api/notes", tt.contentType, tt.body, nil)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestNotesRefusesDisagreeingIdentityHeaders(t *testing.T) {
	f := newFixture(t)
	f.create(t, "alice", "alice's secret")
	for _, h := range []map[string]string{
		{"X-User-Id": "bob"},
		{"X_User_ID": "bob"},
		{"x-user-id": "bob"},
		{"X-Session-Id": "another-session"},
		{"X-Username": "admin"},
	} {
		w := f.do(t, "alice", http.MethodGet, "/api/notes", "", "", h)
		if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "secret") {
			t.Fatalf("%v: status %d body %s", h, w.Code, w.Body)
		}
	}
	// Bob's token with X-User-ID: alice does not read Alice's notes either.
	w := f.do(t, "bob", http.MethodGet, "/api/notes", "", "", map[string]string{"X-User-Id": "alice"})
	if w.Code != http.StatusForbidden {
		t.Fatalf("bob claiming alice: %d %s", w.Code, w.Body)
	}
	// Agreeing headers (as the gateway sets them) are fine.
	w = f.do(t, "alice", http.MethodGet, "/api/notes/whoami", "", "", map[string]string{"X-User-Id": "alice", "X-Session-Id": "session-alice", "X-Username": "name-alice"})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"X-User-ID":"alice"`) {
		t.Fatalf("agreeing headers: %d %s", w.Code, w.Body)
	}
}

func TestNotesRefusesWithoutValidTokenEvenDirectly(t *testing.T) {
	f := newFixture(t)
	f.create(t, "alice", "alice's secret")
	other := jwkstest.NewKey(t)
	for name, req := range map[string]func() *http.Request{
		"no token, X-User-ID only": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/api/notes", nil)
			r.Header.Set("X-User-ID", "alice")
			return r
		},
		"token of a key not in the JWKS": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/api/notes", nil)
			r.Header.Set("Authorization", "Bearer "+jwkstest.Token(t, other, "alice", f.now))
			return r
		},
		"expired token in the cookie": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/api/notes", nil)
			r.AddCookie(&http.Cookie{Name: accessCookie, Value: jwkstest.Token(t, f.key, "alice", f.now.Add(-time.Hour))})
			return r
		},
		"no token, delete": func() *http.Request {
			return httptest.NewRequest(http.MethodDelete, "/api/notes/x", nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			f.e.ServeHTTP(w, req())
			if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("status %d challenge %q body %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Fatal("notes leaked")
			}
		})
	}
}
