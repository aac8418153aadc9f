package handlers

import (
	"net/http"
	"net/url"
	"testing"
)

// go test -run '^$' -bench Pages -benchmem ./handlers/
// In process (no network), on the test app (HS256, SQLite in a temporary
// folder): where a request's time goes, page by page. Figures:
// docs/PERFORMANCE.md.
func BenchmarkPages(b *testing.B) {
	app := newTestApp(b)
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
