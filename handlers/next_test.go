package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// safeNextCases are shared by TestSafeNext and FuzzSafeNext's seed corpus.
var safeNextCases = []struct {
	name, in, want string
}{
	{"ok, root", "/", "/"},
	{"ok, page", "/dashboard", "/dashboard"},
	{"ok, query and fragment", "/sessions?tab=all#top", "/sessions?tab=all#top"},
	{"ok, encoded space", "/a%20b", "/a%20b"},
	{"ok, encoded percent", "/search?q=100%25", "/search?q=100%25"},
	{"ok, unicode path", "/caf\u00e9/\u65e5\u672c", "/caf\u00e9/\u65e5\u672c"},
	{"ok, fullwidth solidus is an ordinary character", "/\uff0f\uff0fevil.com", "/\uff0f\uff0fevil.com"},
	{"ok, colon after the slash", "/a:b", "/a:b"},
	{"ok, dots inside a segment", "/a..b/.well-known/x.", "/a..b/.well-known/x."},
	{"ok, dot segments in the query", "/search?q=../../x&p=./", "/search?q=../../x&p=./"},
	{"ok, dot segment in the fragment", "/page#../x", "/page#../x"},

	{"nok, empty", "", ""},
	{"nok, absolute https", "https://evil.com/", ""},
	{"nok, absolute http", "http://evil.com", ""},
	{"nok, upper-case scheme", "HTTPS://evil.com", ""},
	{"nok, scheme without slashes", "https:evil.com", ""},
	{"nok, protocol-relative", "//evil.com", ""},
	{"nok, protocol-relative with path", "//evil.com/dashboard", ""},
	{"nok, triple slash", "///evil.com", ""},
	{"nok, slash backslash", "/\\evil.com", ""},
	{"nok, backslash slash", "\\/evil.com", ""},
	{"nok, double backslash", "\\\\evil.com", ""},
	{"nok, backslash later in path", "/a\\b", ""},
	{"nok, encoded double slash", "/%2F%2Fevil.com", ""},
	{"nok, encoded double slash, lower case", "/%2f%2fevil.com", ""},
	{"nok, encoded slash after slash", "/%2Fevil.com", ""},
	{"nok, fully encoded", "%2F%2Fevil.com", ""},
	{"nok, encoded backslash", "/%5Cevil.com", ""},
	{"nok, encoded backslash, lower case", "/%5cevil.com", ""},
	{"nok, double-encoded double slash", "/%252F%252Fevil.com", ""},
	{"nok, double-encoded backslash", "/%255Cevil.com", ""},
	{"nok, five times encoded", "/%25252525252Fevil.com", ""},
	{"nok, bad percent-encoding", "/%zz", ""},
	{"nok, tab between slashes", "/\t/evil.com", ""},
	{"nok, newline between slashes", "/\n/evil.com", ""},
	{"nok, carriage return", "/\r/evil.com", ""},
	{"nok, encoded tab", "/%09/evil.com", ""},
	{"nok, header injection", "/x\r\nSet-Cookie: a=b", ""},
	{"nok, encoded header injection", "/x%0d%0aSet-Cookie:%20a=b", ""},
	{"nok, NUL", "/a\x00b", ""},
	{"nok, encoded NUL", "/a%00b", ""},
	{"nok, DEL", "/a\x7fb", ""},
	{"nok, C1 control", "/a\u0085b", ""},
	{"nok, leading space", " //evil.com", ""},
	{"nok, javascript URL", "javascript:alert(1)", ""},
	{"nok, javascript URL, mixed case", "JaVaScRiPt:alert(1)", ""},
	{"nok, javascript after tab", "java\tscript:alert(1)", ""},
	{"nok, data URL", "data:text/html,<script>alert(1)</script>", ""},
	{"nok, relative path", "dashboard", ""},
	{"nok, dot relative", "./dashboard", ""},
	{"nok, userinfo", "https://app.example@evil.com/", ""},
	{"nok, invalid UTF-8", "/\xff", ""},
	{"nok, dot-dot segments", "/../../etc/passwd", ""},
	{"nok, dot then empty segment", "/.//evil.com", ""},
	{"nok, dot segment", "/./dashboard", ""},
	{"nok, dot segment at the end", "/dashboard/.", ""},
	{"nok, dot-dot segment at the end", "/dashboard/..", ""},
	{"nok, dot-dot before a query", "/a/..?x=1", ""},
	{"nok, encoded dot-dot", "/%2e%2e/dashboard", ""},
	{"nok, encoded dot-dot, upper case", "/%2E%2E/dashboard", ""},
	{"nok, half-encoded dot-dot", "/.%2e/dashboard", ""},
	{"nok, encoded dot then empty segment", "/%2e//evil.com", ""},
	{"nok, double-encoded dot-dot", "/%252e%252e/dashboard", ""},
	{"nok, dot-dot behind an encoded question mark", "/a%3F/%2e%2e/x", ""},
	{"nok, longer than maxNextLen", "/" + strings.Repeat("a", maxNextLen), ""},
}

func TestSafeNext(t *testing.T) {
	for _, tc := range safeNextCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SafeNext(tc.in); got != tc.want {
				t.Errorf("SafeNext(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkLocalNext(t, tc.in, SafeNext(tc.in))
		})
	}
	t.Run("ok, exactly maxNextLen", func(t *testing.T) {
		in := "/" + strings.Repeat("a", maxNextLen-1)
		if SafeNext(in) != in {
			t.Error("a path of maxNextLen bytes was refused")
		}
	})
}

// checkLocalNext is the property of SafeNext: the result is "" or a path
// that, resolved against our origin, stays on our origin, and has nothing a
// browser would read differently from Go (backslashes, controls).
func checkLocalNext(t *testing.T, in, got string) {
	t.Helper()
	if got == "" {
		return
	}
	if got != in {
		t.Fatalf("SafeNext(%q) = %q: it must return its input or nothing", in, got)
	}
	if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
		t.Fatalf("SafeNext(%q) accepted a value that is not one-slash local", in)
	}
	if strings.ContainsAny(got, "\\\t\r\n\x00") {
		t.Fatalf("SafeNext(%q) accepted a backslash or control character", in)
	}
	base, _ := url.Parse("https://app.example/some/page")
	u, err := base.Parse(got)
	if err != nil {
		t.Fatalf("SafeNext(%q) accepted a value url.Parse refuses: %v", in, err)
	}
	if u.Scheme != "https" || u.Host != "app.example" || u.User != nil {
		t.Fatalf("SafeNext(%q) = %q resolves to %s, off app.example", in, got, u)
	}
	if dec, err := url.PathUnescape(got); err == nil {
		if d, err := base.Parse(dec); err == nil && d.Host != "app.example" {
			t.Fatalf("SafeNext(%q): decoded once, %q goes to %s", in, dec, d.Host)
		}
	}
	// No "." or ".." path segment, as written or decoded: a browser would
	// resolve it (and reads %2e as a dot), so the path it asks for would
	// not be the one we checked.
	p, _, _ := strings.Cut(got, "?")
	p, _, _ = strings.Cut(p, "#")
	for range maxNextDecodes + 1 {
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("SafeNext(%q) accepted the dot segment %q in path %q", in, seg, p)
			}
		}
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
}

// TestLoginBadNextLandsOnDashboard: end to end, a login form posted with a
// hostile next sends the browser to /dashboard, and the login page never
// echoes the hostile value into the form.
func TestLoginBadNextLandsOnDashboard(t *testing.T) {
	app := newTestApp(t)
	app.mustRegister(t, "nextuser", "correct horse battery")
	for _, next := range []string{
		"https://evil.com/", "//evil.com", "/\\evil.com", "/%2F%2Fevil.com", "/%252F%252Fevil.com",
		"/%5Cevil.com", "/\t/evil.com", "javascript:alert(1)", "/x%0d%0aSet-Cookie:%20a=b",
		"/.//evil.com", "/%2e%2e/evil.com",
	} {
		t.Run(next, func(t *testing.T) {
			b := app.browser()
			w := b.get("/auth/login?next=" + url.QueryEscape(next))
			if w.Code != http.StatusOK {
				t.Fatalf("login form: %d", w.Code)
			}
			if strings.Contains(w.Body.String(), "evil.com") {
				t.Errorf("login form echoes the hostile next %q", next)
			}
			w = b.post("/auth/login", url.Values{
				"username": {"nextuser"}, "password": {"correct horse battery"}, "next": {next},
			})
			if w.Code != http.StatusSeeOther {
				t.Fatalf("login: %d %s", w.Code, w.Body.String())
			}
			if loc := w.Header().Get("Location"); loc != "/dashboard" {
				t.Errorf("next %q: Location %q, want /dashboard", next, loc)
			}
		})
	}
	t.Run("ok, a local next is followed", func(t *testing.T) {
		b := app.browser()
		w := b.post("/auth/login", url.Values{
			"username": {"nextuser"}, "password": {"correct horse battery"}, "next": {"/sessions?x=1"},
		})
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/sessions?x=1" {
			t.Errorf("got %d Location %q, want 303 /sessions?x=1", w.Code, loc)
		}
	})
	t.Run("nok, refresh form post with a hostile next", func(t *testing.T) {
		b := app.mustLogin(t, "nextuser", "correct horse battery")
		w := b.post("/auth/refresh", url.Values{"next": {"//evil.com"}})
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/dashboard" {
			t.Errorf("got %d Location %q, want 303 /dashboard", w.Code, loc)
		}
	})
}
