package auth

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tokenflow/store/sqlite"
	"tokenflow/tokens"
)

// The setup every test file of the package shares: a real SQLite store, a
// real token manager, an issuer the tests can break, and the readers of
// what a case left in the store. One copy here; rig (rotation_test.go),
// fixture (service_test.go) and the cap's backends (sessions_test.go) are
// built on it.

// testPolicy is the session policy of rig and fixture: a refresh token
// lives idleTTL, a session at most maxAge, a replay is forgiven for grace.
var testPolicy = Config{RefreshTokenTTL: idleTTL, SessionMaxAge: maxAge, RefreshReuseGrace: grace}

// openSQLite opens a fresh SQLite store in the test's temporary folder,
// reading the time from now, and closes it when the test ends.
func openSQLite(t *testing.T, now func() time.Time) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "data", "tokenflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.Now = now
	return st
}

// recordingIssuer signs with a real HS256 manager on the test's clock and
// remembers what it signed for; fail makes it fail instead.
type recordingIssuer struct {
	m         *tokens.Manager
	fail      error
	mu        sync.Mutex
	signedFor []string // "user/session"
}

func newRecordingIssuer(t *testing.T, now func() time.Time) *recordingIssuer {
	t.Helper()
	tm, err := tokens.NewManager(tokens.Config{
		Secret: []byte("test-secret-test-secret-test-secret!"), Issuer: "tokenflow", Audience: "tokenflow",
		TTL: 5 * time.Minute, Leeway: time.Second, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &recordingIssuer{m: tm}
}

func (i *recordingIssuer) Issue(userID, username, sessionID string) (string, tokens.Claims, error) {
	i.mu.Lock()
	i.signedFor = append(i.signedFor, userID+"/"+sessionID)
	fail := i.fail
	i.mu.Unlock()
	if fail != nil {
		return "", tokens.Claims{}, fail
	}
	return i.m.Issue(userID, username, sessionID)
}
