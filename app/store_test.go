package app

import (
	"net/http"
	"testing"

	"tokenflow/store/postgres/pgtest"
)

// DATABASE_URL=postgres://… runs the whole app on PostgreSQL: an account
// registered before a restart still logs in and refreshes after it, so
// the state lives in the database, not in the process or the data folder.
func TestRunOnPostgreSQL(t *testing.T) {
	vars := testEnv(t)
	vars["DATABASE_URL"] = pgtest.FreshURL(t)
	base, _, stop := startInProcess(t, vars)
	c := newClient(t)
	register(t, c, base, "pg-user", "a long password")
	if got := status(t, c, http.MethodGet, base+"/api/me"); got != http.StatusOK {
		t.Fatalf("/api/me: %d", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	base2, _, stop2 := startInProcess(t, vars)
	defer stop2()
	if got := status(t, c, http.MethodPost, base2+"/auth/refresh"); got != http.StatusOK {
		t.Fatalf("refresh after restart on PostgreSQL: %d", got)
	}
	if got := status(t, c, http.MethodGet, base2+"/api/me"); got != http.StatusOK {
		t.Fatalf("/api/me after restart: %d", got)
	}
}
