package auth

import (
	"errors"
	"testing"

	"tokenflow/store"
)

// A refresh of a revoked session says why it was revoked: the log line of
// a theft (reuse_detected) must not read like a logout.
func TestSessionRevokedErrorNamesTheReason(t *testing.T) {
	for _, reason := range []string{store.EventReuseDetected, store.EventLogout, store.EventRevoked} {
		err := error(&SessionRevokedError{SessionID: "s-1", Reason: reason})
		if want := "auth: session revoked (" + reason + ")"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		if !errors.Is(err, ErrSessionRevoked) || errors.Is(err, ErrRefreshReused) {
			t.Errorf("%v: want ErrSessionRevoked only", err)
		}
	}
}
