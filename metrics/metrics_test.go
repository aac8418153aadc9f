package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"tokenflow/auth"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("missing %q in\n%s", l, grep(text, "tokenflow_"))
		}
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type fakeSessions struct {
	n   int
	err error
}

func (f fakeSessions) CountActiveSessions(context.Context) (int, error) { return f.n, f.err }

type fakeHasher struct{ inUse, waiting, slots int }

func (f fakeHasher) InFlight() int { return f.inUse }
func (f fakeHasher) Waiting() int  { return f.waiting }
func (f fakeHasher) Slots() int    { return f.slots }

func TestOutcomesSessionsAndHashQueue(t *testing.T) {
	m := New()
	m.LoginFinished(auth.LoginOK)
	m.LoginFinished(auth.LoginFailed)
	m.LoginFinished(auth.LoginFailed)
	m.RefreshFinished(auth.RefreshReused)
	m.SessionsRevoked("reuse_detected", 1)
	m.SessionsRevoked("revoked", 3)
	m.RefreshFinished(auth.RefreshGrace)
	m.SessionsDeleted(500)
	m.SessionsDeleted(7)
	m.WatchSessions(fakeSessions{n: 7})
	m.WatchHasher(fakeHasher{inUse: 2, waiting: 5, slots: 2})
	wantLines(t, scrape(t, m),
		`tokenflow_logins_total{outcome="ok"} 1`,
		`tokenflow_logins_total{outcome="failed"} 2`,
		`tokenflow_logins_total{outcome="busy"} 0`, // present before the first one
		`tokenflow_refreshes_total{outcome="reused"} 1`,
		`tokenflow_refreshes_total{outcome="rate_limited"} 0`,
		`tokenflow_sessions_revoked_total{reason="reuse_detected"} 1`,
		`tokenflow_sessions_revoked_total{reason="revoked"} 3`,
		`tokenflow_sessions_revoked_total{reason="evicted"} 0`, // every reason present before the first one
		`tokenflow_refreshes_total{outcome="grace"} 1`,
		`tokenflow_refreshes_total{outcome="ok"} 0`,
		`tokenflow_sessions_deleted_total 507`,
		`tokenflow_active_sessions 7`,
		`tokenflow_password_hash_in_use 2`,
		`tokenflow_password_hash_waiting 5`,
		`tokenflow_password_hash_slots 2`,
	)
}

// A store that fails gives no sample rather than a false zero.
func TestActiveSessionsWhenTheStoreFails(t *testing.T) {
	m := New()
	m.WatchSessions(fakeSessions{err: errors.New("database is locked")})
	text := scrape(t, m)
	if strings.Contains(text, "\ntokenflow_active_sessions ") {
		t.Errorf("a sample despite the failure:\n%s", grep(text, "tokenflow_active"))
	}
	wantLines(t, text, `tokenflow_active_sessions_errors_total 1`)
}

// The route label is the pattern: a thousand session ids or random probed
// paths make one series each, not a thousand.
func TestRequestDurationLabelsThePatternNotThePath(t *testing.T) {
	m := New()
	e := echo.New()
	e.Use(m.RequestDuration())
	e.POST("/sessions/:id/revoke", func(c echo.Context) error { return c.NoContent(http.StatusSeeOther) })
	e.GET("/fails", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot) })
	e.GET("/static/*", func(c echo.Context) error { return echo.ErrNotFound }) // a missing file
	for _, id := range []string{"a", "b", "c"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/sessions/"+id+"/revoke", nil))
	}
	for _, p := range []string{"/wp-admin", "/.env", "/x/y/z?token=secret"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/fails", nil))
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete, "/fails", nil))
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/static/nope.css", nil))
	text := scrape(t, m)
	wantLines(t, text,
		`tokenflow_http_request_duration_seconds_count{code="303",method="POST",route="/sessions/:id/revoke"} 3`,
		`tokenflow_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 3`,
		`tokenflow_http_request_duration_seconds_count{code="418",method="GET",route="/fails"} 1`,
		`tokenflow_http_request_duration_seconds_count{code="405",method="DELETE",route="/fails"} 1`,
		`tokenflow_http_request_duration_seconds_count{code="404",method="GET",route="/static/*"} 1`,
	)
	for _, raw := range []string{"wp-admin", ".env", "secret", `route="/sessions/a`} {
		if strings.Contains(text, raw) {
			t.Errorf("a raw path reached a label: %q", raw)
		}
	}
}
