package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"tokenflow/app"
	"tokenflow/internal/testkit"
)

// notesPanel is what the dashboard's notes panel shows, read from the page.
type notesPanel struct {
	State    string   `json:"state"`
	Status   string   `json:"status"`
	Notes    []string `json:"notes"`
	Form     bool     `json:"form"`
	Error    string   `json:"error"`
	Markup   int      `json:"markup"`
	Injected bool     `json:"injected"`
}

const readNotes = `(() => {
	const panel = document.querySelector('[data-testid="notes"]');
	const list = panel.querySelector('[data-testid="notes-list"]');
	return {
		state: panel.getAttribute("data-state") ?? "",
		status: panel.querySelector('[data-testid="notes-status"]').textContent.trim(),
		notes: [...list.querySelectorAll('[data-testid="note-text"]')].map(n => n.textContent),
		form: !document.getElementById("note-form").hidden,
		error: document.getElementById("note-error").hidden ? "" : document.getElementById("note-error").textContent,
		markup: list.querySelectorAll("img, script, b").length,
		injected: window.tokenflowInjected === true,
	};
})()`

func (b *tab) notes() notesPanel {
	b.t.Helper()
	return evalJS[notesPanel](b, readNotes)
}

// waitNotes waits until the notes panel is in state with n notes.
func (b *tab) waitNotes(state string, n int) notesPanel {
	b.t.Helper()
	b.waitTrue(fmt.Sprintf("the notes panel %s with %d notes", state, n), fmt.Sprintf(
		`document.querySelector('[data-testid="notes"]')?.getAttribute("data-state") === %q && document.querySelectorAll('[data-testid="notes-list"] li').length === %d`, state, n))
	return b.notes()
}

// addNote types a note into the panel and submits it.
func (b *tab) addNote(text string) {
	b.t.Helper()
	b.fill(map[string]string{"note-text": text})
	b.click(`[data-testid="add-note"]`)
}

// The notes panel through `tokenflow stack`: the browser logs in at the
// gateway's URL, lists, adds and deletes notes at /api/notes (verified by
// the gateway and again by the notes service with the auth server's
// public keys), and a note's text stays text. Once the access token has
// expired (the one test clock of all three servers moved past its exp),
// adding a note is one 401 from /api/notes, one POST /auth/refresh at the
// auth server, and one retried /api/notes; the inspector then shows the
// new token, signed by the kid the JWKS publishes.
func TestNotesPanelThroughTheGateway(t *testing.T) {
	srv := startStack(t)
	b := newBrowser(t, srv)
	b.register("noether")

	p := b.waitNotes("ready", 0)
	if !p.Form || !strings.Contains(p.Status, "No notes yet") {
		t.Fatalf("fresh notes panel: %+v", p)
	}
	b.addNote("first note")
	b.waitNotes("ready", 1)
	attack := `<img src=x onerror="window.tokenflowInjected=true"><b>bold</b>`
	b.addNote(attack)
	p = b.waitNotes("ready", 2)
	if p.Markup != 0 || p.Injected || p.Notes[1] != attack {
		t.Fatalf("a note's text became markup: %+v", p)
	}
	b.click(`[data-note-id] [data-testid="delete-note"]`) // the first, oldest
	b.waitNotes("ready", 1)

	b.open("/dashboard") // the notes are the service's, not the page's
	b.waitPage("/dashboard", `[data-testid="notes"]`)
	if p = b.waitNotes("ready", 1); p.Notes[0] != attack || p.Injected {
		t.Fatalf("after a reload: %+v", p)
	}
	kid := b.text(`[data-testid="key-kid"]`)
	if !srv.publishes(t, kid) || b.text(`[data-testid="key-alg"]`) != "ES256" {
		t.Fatalf("the inspector names kid %q (alg %q), which the JWKS does not publish", kid, b.text(`[data-testid="key-alg"]`))
	}
	if href := b.waitAttr(`[data-testid="key-jwks"]`, "href"); href != "/.well-known/jwks.json" {
		t.Errorf("the key's link goes to %q", href)
	}

	jti := b.text(`[data-claim="jti"] [data-testid="claim-value"]`)
	srv.expireAccess(t, b.cookieValue(accessCookie))
	net := b.recordRequests()
	b.addNote("after the expiry")
	p = b.waitNotes("ready", 2)
	if p.Notes[1] != "after the expiry" || p.Error != "" {
		t.Fatalf("adding a note with an expired token: %+v", p)
	}
	b.waitTrue("the inspector showing the refreshed token", fmt.Sprintf(
		`document.querySelector('[data-claim="jti"] [data-testid="claim-value"]').textContent.trim() !== %q`, jti))
	if n := net.countStatus("POST", "/api/notes", http.StatusUnauthorized); n != 1 {
		t.Errorf("POST /api/notes answered 401 %d times, want 1 (requests: %s)", n, net)
	}
	net.expect(t, "POST", "/auth/refresh", 1, ": one refresh for the expired token")
	if n := net.countStatus("POST", "/auth/refresh", http.StatusOK); n != 1 {
		t.Errorf("POST /auth/refresh answered 200 %d times, want 1 (requests: %s)", n, net)
	}
	if n := net.countStatus("POST", "/api/notes", http.StatusCreated); n != 1 {
		t.Errorf("the retried POST /api/notes answered 201 %d times, want 1 (requests: %s)", n, net)
	}
	net.expect(t, "POST", "/api/notes", 2, ": the refused call and its one retry")
	if b.text(`[data-testid="key-kid"]`) != kid {
		t.Errorf("the refreshed token's kid %q, want the same key %q (no rotation)", b.text(`[data-testid="key-kid"]`), kid)
	}
}

// A rotation, watched from the browser: after `tokenflow keys rotate`
// against the stack's store, the next refresh brings a token with the new
// kid, the inspector shows it, and the gateway verifies it without a
// restart (it had the key from the JWKS before it signed).
func TestNotesPanelAcrossAKeyRotation(t *testing.T) {
	srv := startStack(t)
	b := newBrowser(t, srv)
	b.register("hypatia")
	b.waitNotes("ready", 0)
	oldKid := b.text(`[data-testid="key-kid"]`)

	before := len(testkit.JWKSKids(t, srv.URL))
	srv.keys(t, "rotate")
	// The auth server follows the store on its next poll (seconds): it
	// then publishes one more key, the new next one.
	testkit.WaitFor(t, "the auth server publishing the rotated keys", func() bool { return len(testkit.JWKSKids(t, srv.URL)) == before+1 })

	b.click(`[data-testid="expire-access"]`)
	b.waitTrue("the expired token on the page", `document.querySelector('[data-testid="access-countdown"]').textContent === "(expired)"`)
	b.addNote("signed by the new key")
	p := b.waitNotes("ready", 1)
	if p.Error != "" || p.Notes[0] != "signed by the new key" {
		t.Fatalf("adding a note after the rotation: %+v", p)
	}
	b.waitTrue("the inspector showing the new kid", fmt.Sprintf(
		`document.querySelector('[data-testid="key-kid"]').textContent.trim() !== %q`, oldKid))
	newKid := b.text(`[data-testid="key-kid"]`)
	if !srv.publishes(t, newKid) {
		t.Errorf("the new kid %q is not in the JWKS", newKid)
	}
}

// Served by the auth server alone (`go run .`), /api/notes is 404: the
// panel says that the notes service runs behind the gateway and how to
// start it, and offers no form.
func TestNotesPanelSaysWhereTheNotesServiceRuns(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, srv)
	b.register("germain")
	p := b.waitNotes("absent", 0)
	if p.Form || !strings.Contains(p.Status, "behind the gateway") || !strings.Contains(p.Status, "go run . stack") {
		t.Fatalf("notes panel on the auth server alone: %+v", p)
	}
}

func (s *server) publishes(t *testing.T, kid string) bool {
	t.Helper()
	for _, k := range testkit.JWKSKids(t, s.URL) {
		if k == kid && kid != "" {
			return true
		}
	}
	return false
}

// keys runs `tokenflow keys ARGS` against the server's store, as an
// operator would.
func (s *server) keys(t *testing.T, args ...string) {
	t.Helper()
	var out strings.Builder
	if err := app.Keys(context.Background(), args, func(k string) string { return s.env[k] }, &out); err != nil {
		t.Fatalf("keys %v: %v\n%s", args, err, out.String())
	}
}
