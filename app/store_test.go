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

// Instances on one database, started the way every instance
// of a deployment is (KEY_ENCRYPTION_KEY set, so nothing else writes to
// its data folder), each with a data folder that does not exist yet: they start.
// The first start creates the demo account; the folder it keeps the demo
// password in must exist however the store was chosen.
func TestInstancesOnPostgreSQLStartWithAFreshDataFolder(t *testing.T) {
	databaseURL := pgtest.FreshURL(t)
	for _, name := range []string{"first", "second"} {
		vars := testEnv(t)
		vars["DATABASE_URL"] = databaseURL
		vars["KEY_ENCRYPTION_KEY"] = "a key encryption key of at least 32 characters"
		base, _, stop := startInProcess(t, vars)
		if got := status(t, http.DefaultClient, http.MethodGet, base+"/readyz"); got != http.StatusOK {
			t.Fatalf("%s instance: /readyz %d", name, got)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
