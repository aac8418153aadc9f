package handlers

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The how-it-works page cites files and functions by name. These tests keep
// the citations honest: the page answers, names the files it must, and every
// function it cites is declared in the file it names.

// howItWorksFiles are the files the page must cite, one per step of the flow.
var howItWorksFiles = []string{
	"handlers/auth_login.go",
	"handlers/auth_refresh.go",
	"handlers/auth_logout.go",
	"handlers/cookies.go",
	"handlers/guard.go",
	"handlers/routes.go",
	"handlers/pages.go",
	"httpx/guard.go",
	"httpx/headers.go",
	"handlers/dev.go",
	"auth/service.go",
	"tokens/issuer.go",
	"tokens/verifier.go",
	"tokens/refresh.go",
	"store/internal/sqltables/queries.go",
	"password/password.go",
	"static/app.js",
	"static/interstitial.js",
	// The distributed form: the JWKS, the gateway, the notes service, key rotation.
	"handlers/wellknown.go",
	"tokens/published.go",
	"httpx/jwks.go",
	"gateway/gateway.go",
	"notes/service.go",
	"app/keys.go",
	"signingkeys/signingkeys.go",
}

var citation = regexp.MustCompile(`data-file="([^"]+)" data-func="([^"]*)"`)

func TestHowItWorks(t *testing.T) {
	app := newTestApp(t)
	w := app.browser().get("/how-it-works")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /how-it-works: status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range append(howItWorksFiles, "ACCESS_TOKEN_TTL=20s go run .", "Set-Cookie: tf_access_token=", "tokenflow stack", "tokenflow keys rotate", "X-User-ID: admin") {
		if !strings.Contains(body, want) {
			t.Errorf("page does not mention %q", want)
		}
	}

	cites := citation.FindAllStringSubmatch(body, -1)
	if len(cites) < len(howItWorksFiles) {
		t.Fatalf("found %d citations, want at least %d", len(cites), len(howItWorksFiles))
	}
	sources := map[string]string{}
	for _, c := range cites {
		file, fn := c[1], c[2]
		t.Run(file+" "+fn, func(t *testing.T) {
			src, ok := sources[file]
			if !ok {
				b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(file)))
				if err != nil {
					t.Fatalf("cited file: %v", err)
				}
				src = string(b)
				sources[file] = src
			}
			if fn == "" {
				return
			}
			decl := `func (\([^)]*\) )?` + regexp.QuoteMeta(fn) + `\(`
			if strings.HasSuffix(file, ".js") {
				decl = `function ` + regexp.QuoteMeta(fn) + `\s*\(`
			}
			if !regexp.MustCompile(decl).MatchString(src) {
				t.Errorf("%s declares no function %s", file, fn)
			}
		})
	}
}

func TestHowItWorksIsPublicAndAdaptsNav(t *testing.T) {
	app := newTestApp(t)
	b := app.mustRegister(t, "ada", "correct horse battery")
	w := b.get("/how-it-works")
	if w.Code != http.StatusOK {
		t.Fatalf("logged in: status %d", w.Code)
	}
	if !strings.Contains(w.Body.String(), `href="/dashboard"`) {
		t.Error("logged-in visitor gets no dashboard link")
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (the header depends on who asks)", cc)
	}
}
