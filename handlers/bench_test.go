package handlers

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"tokenflow/tokens"
)

// go test -run '^$' -bench Pages -benchmem ./handlers/
// In process (no network), on the test app with the server's token setup
// (an ES256 key, the cache of verified tokens, SQLite in a temporary
// folder): where a request's time goes, page by page. Figures:
// docs/PERFORMANCE.md.
func BenchmarkPages(b *testing.B) {
	key, err := tokens.GenerateKey(tokens.AlgES256)
	if err != nil {
		b.Fatal(err)
	}
	set, err := tokens.NewKeySet(key)
	if err != nil {
		b.Fatal(err)
	}
	ring, err := tokens.NewKeyring(set)
	if err != nil {
		b.Fatal(err)
	}
	app := newTestApp(b, func(d *testDeps) {
		tm, err := tokens.NewManager(tokens.Config{
			Keys: ring, Issuer: "tokenflow", Audience: "tokenflow", TTL: 5 * time.Minute, Leeway: time.Second,
			Now: d.Now, VerifiedCacheSize: tokens.DefaultVerifiedCacheSize,
		})
		if err != nil {
			b.Fatal(err)
		}
		d.Tokens, d.Keys = tm, ring
	})
	user := app.browser()
	if w := user.post("/auth/register", url.Values{"username": {"bench"}, "password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}); w.Code != http.StatusSeeOther {
		b.Fatalf("register: %d", w.Code)
	}
	for _, path := range []string{"/", "/.well-known/oauth-authorization-server", "/api/me", "/dashboard"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if w := user.get(path); w.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, w.Code)
				}
			}
		})
	}
}
