package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"tokenflow/internal/testkit"
)

// TestStackServesOneOrigin runs `stack` as main does: the auth server's
// pages and login work through the gateway's one URL, /api/notes asks for
// a token there, and all three stop on cancel.
func TestStackServesOneOrigin(t *testing.T) {
	vars := testEnv(t)
	stdout, stderr := &testkit.SyncBuffer{}, &testkit.SyncBuffer{}
	testkit.LogOnFailure(t, "stack log", stderr)
	stack := startStack(t, Options{}, vars, stdout, stderr)
	base := stack.URL
	if !strings.Contains(stdout.String(), "Open "+base) {
		t.Fatalf("stack did not print the URL to open:\n%s", stdout)
	}

	c := newClient(t)
	register(t, c, base, "stackuser", "correct horse battery staple")
	if got := status(t, c, http.MethodGet, base+"/dashboard"); got != http.StatusOK {
		t.Fatalf("dashboard through the gateway: %d", got)
	}
	resp := response(t, http.MethodGet, base+"/api/notes")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="tokenflow"` {
		t.Fatalf("/api/notes without token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	if err := stack.Stop(); err != nil {
		t.Fatalf("RunStack after cancel: %v", err)
	}
}

// startStack runs RunStackWith until the test ends; its URL is the
// gateway's.
func startStack(t *testing.T, opts Options, vars map[string]string, stdout, stderr io.Writer) *testkit.Server {
	t.Helper()
	return testkit.Start(t, "RunStack", func(ctx context.Context, ready func(string)) error {
		return RunStackWith(ctx, opts, func(k string) string { return vars[k] }, stdout, stderr, ready)
	})
}

func TestGatewayAndNotesRefuseBadSettings(t *testing.T) {
	run := map[string]func(context.Context, func(string) string, *testkit.SyncBuffer, func(string)) error{
		"gateway": func(ctx context.Context, g func(string) string, b *testkit.SyncBuffer, r func(string)) error {
			return RunGateway(ctx, g, b, b, r)
		},
		"notes": func(ctx context.Context, g func(string) string, b *testkit.SyncBuffer, r func(string)) error {
			return RunNotes(ctx, g, b, b, r)
		},
	}
	tests := []struct {
		name, command string
		vars          map[string]string
		want          string
	}{
		{"nok, gateway without AUTH_URL", "gateway", map[string]string{"NOTES_URL": "http://127.0.0.1:1"}, "AUTH_URL"},
		{"nok, gateway without NOTES_URL", "gateway", map[string]string{"AUTH_URL": "http://127.0.0.1:1"}, "NOTES_URL"},
		{"nok, AUTH_URL with a path", "gateway", map[string]string{"AUTH_URL": "http://127.0.0.1:1/x", "NOTES_URL": "http://127.0.0.1:1"}, "AUTH_URL"},
		{"nok, AUTH_URL with user info", "notes", map[string]string{"AUTH_URL": "http://u:p@127.0.0.1:1"}, "AUTH_URL"},
		{"nok, AUTH_URL not http", "notes", map[string]string{"AUTH_URL": "file:///etc/passwd"}, "AUTH_URL"},
		{"nok, leeway above 5s", "notes", map[string]string{"AUTH_URL": "http://127.0.0.1:1", "ACCESS_TOKEN_LEEWAY": "6s"}, "ACCESS_TOKEN_LEEWAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.vars["ADDR"] = "127.0.0.1:0"
			tt.vars["DATA_DIR"] = t.TempDir()
			err := run[tt.command](context.Background(), func(k string) string { return tt.vars[k] }, &testkit.SyncBuffer{}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// TestStackNotesThroughTheGateway logs in at the auth server through the
// gateway and uses /api/notes there, with the cookie the browser would
// hold: the gateway and the notes service verify it with the auth
// server's published keys, fetched over HTTP. It needs an auth server
// that publishes a JWKS (an asymmetric JWT_ALG) and skips otherwise.
func TestStackNotesThroughTheGateway(t *testing.T) {
	vars := testEnv(t)
	base := startStack(t, Options{}, vars, io.Discard, io.Discard).URL
	if got := status(t, http.DefaultClient, http.MethodGet, base+"/.well-known/jwks.json"); got != http.StatusOK {
		t.Skipf("the auth server publishes no JWKS (GET /.well-known/jwks.json: %d)", got)
	}

	alice, bob := newClient(t), newClient(t)
	register(t, alice, base, "alice", "correct horse battery staple")
	register(t, bob, base, "bobby", "correct horse battery staple")

	req, _ := http.NewRequest(http.MethodPost, base+"/api/notes", strings.NewReader(`{"text":"alice's note"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User-ID", "someone-else") // stripped by the gateway
	if got := statusOf(t, alice, req); got != http.StatusCreated {
		t.Fatalf("POST /api/notes through the gateway: %d", got)
	}
	for _, tc := range []struct {
		name string
		c    *http.Client
		want bool
	}{{"alice", alice, true}, {"bobby", bob, false}} {
		res, err := tc.c.Get(base + "/api/notes")
		if err != nil {
			t.Fatal(err)
		}
		var list []struct{ Text string }
		err = json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET /api/notes: %d %v", tc.name, res.StatusCode, err)
		}
		if got := len(list) == 1 && list[0].Text == "alice's note"; got != tc.want {
			t.Fatalf("%s sees %+v", tc.name, list)
		}
	}
}

// With TRUSTED_PROXIES set for the proxy in front of the stack, the auth
// server must still trust the gateway, its only client: otherwise every
// browser counts as the gateway's loopback address, and one client's
// failed logins use up LOGIN_RATE_LIMIT for everyone.
func TestStackTrustsTheGatewayBesideTrustedProxies(t *testing.T) {
	vars := testEnv(t)
	vars["TRUSTED_PROXIES"] = "10.0.0.5" // the load balancer in front of the gateway
	vars["LOGIN_RATE_LIMIT"] = "1"
	base := startStack(t, Options{}, vars, io.Discard, io.Discard).URL

	for i, browser := range []string{"198.51.100.7", "198.51.100.8"} {
		req, _ := http.NewRequest(http.MethodPost, base+"/auth/login",
			strings.NewReader(fmt.Sprintf("username=nobody%d&password=wrong-password", i)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// What the load balancer sends: the browser, then itself.
		req.Header.Set("X-Forwarded-For", browser+", 10.0.0.5")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("browser %s: failed login answered %d, want 401 (its own limit, not the gateway's)", browser, res.StatusCode)
		}
	}
}
