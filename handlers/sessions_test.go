package handlers

import (
	"net/http"
	"testing"
)

// An ID in the path that no store makes (NUL, bytes that are not UTF-8,
// the wrong length) is an unknown session: 404, as for any other session
// that is not the caller's, and nothing changes. PostgreSQL refuses such
// text with an error rather than find nothing, so it is turned away where
// the request is parsed, before any query.
func TestRevokeSessionMalformedIDIsNotFound(t *testing.T) {
	onBackends(t, func(t *testing.T, use func(*testDeps)) {
		a := newTestApp(t, use)
		b := a.mustRegister(t, "idshape", goodPassword)
		for _, path := range []string{
			"/sessions/a%00b/revoke",
			"/sessions/%ff%fe/revoke",
			"/sessions/nope/revoke",
			"/sessions/AAAAAAAAAAAAAAAAAAAAAAAA/revoke",
		} {
			if w := b.post(path, nil); w.Code != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404; body %s", path, w.Code, w.Body.String())
			}
		}
		if w := b.fetchRefresh(); w.Code != http.StatusOK {
			t.Errorf("the caller's session after the attempts: refresh %d, want it alive", w.Code)
		}
	})
}
