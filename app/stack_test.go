package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStackServesOneOrigin runs `stack` as main does: the auth server's
// pages and login work through the gateway's one URL, /api/notes asks for
// a token there, and all three stop on cancel.
func TestStackServesOneOrigin(t *testing.T) {
	vars := testEnv(t)
	getenv := func(k string) string { return vars[k] }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- RunStack(ctx, getenv, stdout, stderr, func(u string) { ready <- u }) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("RunStack: %v\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("stack did not start")
	}
	if !strings.Contains(stdout.String(), "Open "+base) {
		t.Fatalf("stack did not print the URL to open:\n%s", stdout)
	}

	c := newClient(t)
	register(t, c, base, "stackuser", "correct horse battery staple")
	if got := status(t, c, http.MethodGet, base+"/dashboard"); got != http.StatusOK {
		t.Fatalf("dashboard through the gateway: %d", got)
	}
	resp, err := http.Get(base + "/api/notes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="tokenflow"` {
		t.Fatalf("/api/notes without token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunStack after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stack did not stop")
	}
}

func TestGatewayAndNotesRefuseBadSettings(t *testing.T) {
	run := map[string]func(context.Context, func(string) string, *syncBuffer, func(string)) error{
		"gateway": func(ctx context.Context, g func(string) string, b *syncBuffer, r func(string)) error {
			return RunGateway(ctx, g, b, b, r)
		},
		"notes": func(ctx context.Context, g func(string) string, b *syncBuffer, r func(string)) error {
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
			err := run[tt.command](context.Background(), func(k string) string { return tt.vars[k] }, &syncBuffer{}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}
