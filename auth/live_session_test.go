package auth

import (
	"context"
	"testing"
	"time"

	"tokenflow/tokens"
)

// LiveSession is the one rule for "this verified access token still
// opens state-changing routes". A signature that verifies is not enough:
// the session must exist, belong to the token's subject, and be neither
// logged out, revoked nor expired; and a store that cannot answer is an
// error, never a live session.
func TestLiveSessionRule(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// spoil turns ada's fresh login into the case; it returns the
		// claims presented.
		spoil func(t *testing.T, f *fixture, ada Result) tokens.Claims
		live  bool
	}{
		{"ok, a fresh login", func(_ *testing.T, _ *fixture, ada Result) tokens.Claims { return ada.Claims }, true},
		{"ok, just before the idle expiry", func(_ *testing.T, f *fixture, ada Result) tokens.Claims {
			f.clock.Advance(idleTTL - time.Second)
			return ada.Claims
		}, true},
		{"nok, at the idle expiry", func(_ *testing.T, f *fixture, ada Result) tokens.Claims {
			f.clock.Advance(idleTTL)
			return ada.Claims
		}, false},
		{"nok, logged out", func(t *testing.T, f *fixture, ada Result) tokens.Claims {
			if err := f.svc.Logout(ctx, ada.Session, ScopeLocal, client); err != nil {
				t.Fatal(err)
			}
			return ada.Claims
		}, false},
		{"nok, revoked from another session", func(t *testing.T, f *fixture, ada Result) tokens.Claims {
			other, err := f.svc.Login(ctx, "ada", pw, client)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.RevokeSession(ctx, ada.Session.UserID, other.Session.ID, ada.Session.ID, client); err != nil {
				t.Fatal(err)
			}
			return ada.Claims
		}, false},
		{"nok, bob's token naming ada's session", func(t *testing.T, f *fixture, ada Result) tokens.Claims {
			bob := f.register(t, "bob")
			forged := bob.Claims
			forged.SessionID = ada.Session.ID
			return forged
		}, false},
		{"nok, a session that never existed", func(_ *testing.T, _ *fixture, ada Result) tokens.Claims {
			forged := ada.Claims
			forged.SessionID = "no-such-session"
			return forged
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ada := f.register(t, "ada")
			claims := tc.spoil(t, f, ada)
			sess, live, err := f.svc.LiveSession(ctx, &claims)
			if err != nil {
				t.Fatalf("LiveSession: %v", err)
			}
			if live != tc.live {
				t.Errorf("live = %v, want %v (session %+v)", live, tc.live, sess)
			}
			if live && sess.ID != ada.Session.ID {
				t.Errorf("live session %s, want ada's %s", sess.ID, ada.Session.ID)
			}
		})
	}
	t.Run("nok, the store fails", func(t *testing.T) {
		f := newFixture(t)
		ada := f.register(t, "ada")
		f.store.Close()
		if _, live, err := f.svc.LiveSession(ctx, &ada.Claims); err == nil || live {
			t.Errorf("live %v, err %v; want an error and not live", live, err)
		}
	})
}
