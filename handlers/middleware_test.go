package handlers

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tokenflow/auth"
	"tokenflow/httpx"
)

func TestRequestIDFromTheRequestOnlyWhenPlausible(t *testing.T) {
	var logs bytes.Buffer
	app := newTestApp(t, func(d *testDeps) { d.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	get := func(path, id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if id != "" {
			r.Header.Set("X-Request-Id", id)
		}
		return app.browser().do(r)
	}

	t.Run("a proxy's id is kept", func(t *testing.T) {
		for _, id := range []string{"a", "0f8fad5b-d9cb-469f-a165-70867728950e", "req_1.2-3", strings.Repeat("x", 64)} {
			if got := get("/", id).Header().Get("X-Request-Id"); got != id {
				t.Errorf("id %q came back as %q", id, got)
			}
		}
	})
	t.Run("anything else is replaced", func(t *testing.T) {
		for _, id := range []string{
			"<script>alert(1)</script>", "a b", "ok\x00", "ünïcode", "a/b", "a\"b",
			strings.Repeat("x", 65), strings.Repeat("y", 32<<10),
		} {
			logs.Reset()
			w := get("/api/no-such-thing", id) // a JSON error quotes the id
			got := w.Header().Get("X-Request-Id")
			if got == id || !httpx.ValidRequestID(got) {
				t.Errorf("id %.20q: response id %.80q, want a new valid one", id, got)
			}
			if !strings.Contains(w.Body.String(), got) {
				t.Errorf("the error answer does not quote the new id %q", got)
			}
			if strings.Contains(w.Body.String(), id) || strings.Contains(logs.String(), id) {
				t.Errorf("the id %.20q reached the page or the log", id)
			}
		}
	})
	t.Run("new ids differ", func(t *testing.T) {
		a, b := get("/", "").Header().Get("X-Request-Id"), get("/", "").Header().Get("X-Request-Id")
		if a == b || !httpx.ValidRequestID(a) || len(a) < 20 {
			t.Errorf("ids %q and %q", a, b)
		}
	})
}

func TestHEADIsAnsweredLikeGET(t *testing.T) {
	app := newTestApp(t)
	do := func(method, path string) *httptest.ResponseRecorder {
		return app.browser().do(httptest.NewRequest(method, path, nil))
	}
	for _, path := range []string{"/", "/healthz", "/auth/login", "/how-it-works", "/static/style.css"} {
		get, head := do(http.MethodGet, path), do(http.MethodHead, path)
		if get.Code != http.StatusOK || head.Code != http.StatusOK {
			t.Errorf("%s: GET %d, HEAD %d; want 200 for both", path, get.Code, head.Code)
		}
		// httptest.ResponseRecorder keeps a body even for HEAD (net/http's
		// server drops it, see below), so compare headers only.
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Security-Policy"} {
			if get.Header().Get(h) != head.Header().Get(h) {
				t.Errorf("%s: %s differs: GET %q, HEAD %q", path, h, get.Header().Get(h), head.Header().Get(h))
			}
		}
	}
	// A protected page answers HEAD as it answers GET: to login.
	if w := do(http.MethodHead, "/dashboard"); w.Code != http.StatusSeeOther {
		t.Errorf("HEAD /dashboard: %d, want 303", w.Code)
	}
	// Unknown paths stay 404, POST-only routes stay 405.
	if w := do(http.MethodHead, "/no-such-page"); w.Code != http.StatusNotFound {
		t.Errorf("HEAD unknown path: %d", w.Code)
	}
	for _, path := range []string{"/auth/logout", "/auth/refresh"} {
		if w := do(http.MethodHead, path); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s: %d, want 405", path, w.Code)
		}
	}
}

// Over a real connection a HEAD answer carries headers only: the method the
// handlers and net/http see is still HEAD.
func TestHEADSendsNoBodyOnTheWire(t *testing.T) {
	app := newTestApp(t)
	srv := httptest.NewServer(app.e)
	defer srv.Close()
	for _, path := range []string{"/", "/healthz", "/static/style.css", "/no-such-page"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "HEAD "+path+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		raw, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		_, rest, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		if len(rest) != 0 {
			t.Errorf("HEAD %s: status %d with %d body bytes on the wire", path, res.StatusCode, len(rest))
		}
	}
}

func TestStaticServesFilesNotDirectories(t *testing.T) {
	app := newTestApp(t)
	for _, path := range []string{"/static/", "/static/.", "/static/./", "/static//", "/static/x/..", "/static/missing.css", "/static/index.html"} {
		w := app.browser().get(path)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, w.Code)
		}
		if strings.Contains(w.Body.String(), `href="style.css"`) {
			t.Errorf("GET %s lists the directory", path)
		}
	}
	w := app.browser().get("/static/style.css")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

// New builds nothing that app should have built: a missing part is an
// error at start-up, not a nil dereference at the first request. (The
// limits are checked by their owners, throttle.Limits.Validate and
// auth.Config.Validate.)
func TestNewRequiresItsParts(t *testing.T) {
	base := newTestApp(t)
	whole := Deps{Auth: auth.NewService(auth.Deps{}), Store: base.store, Tokens: base.tokens}
	if _, err := New(whole); err != nil {
		t.Fatalf("all parts: %v", err)
	}
	for name, edit := range map[string]func(*Deps){
		"no Auth":   func(d *Deps) { d.Auth = nil },
		"no Store":  func(d *Deps) { d.Store = nil },
		"no Tokens": func(d *Deps) { d.Tokens = nil },
	} {
		d := whole
		edit(&d)
		if _, err := New(d); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// Only the static route is cacheable; its errors and every page are not.
func TestOnlyStaticFilesAreCacheable(t *testing.T) {
	app := newTestApp(t)
	for path, want := range map[string]string{
		"/static/style.css":   "public, max-age=300",
		"/static/missing.css": "no-store",
		"/static/":            "no-store",
		"/":                   "no-store",
		"/auth/login":         "no-store",
		"/no-such-page":       "no-store",
	} {
		if got := app.browser().get(path).Header().Get("Cache-Control"); got != want {
			t.Errorf("GET %s: Cache-Control %q, want %q", path, got, want)
		}
	}
}
