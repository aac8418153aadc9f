package app

import (
	"net/http"
	"testing"

	"tokenflow/store/postgres/pgtest"
)

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
