package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"tokenflow/tokens"
)

func TestCurrentSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	first := f.register(t, "ada")

	if sess, ok, err := f.svc.CurrentSession(ctx, first.RefreshToken, nil); err != nil || !ok || sess.ID != first.Session.ID {
		t.Fatalf("current refresh token: %v, %v, %v", sess.ID, ok, err)
	}
	second, err := f.svc.Refresh(ctx, first.RefreshToken, client)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("nok, a rotated token names nobody", func(t *testing.T) {
		if _, ok, err := f.svc.CurrentSession(ctx, first.RefreshToken, nil); ok || err != nil {
			t.Errorf("ok %v, err %v; want nobody", ok, err)
		}
	})
	t.Run("nok, a malformed token names nobody", func(t *testing.T) {
		if _, ok, err := f.svc.CurrentSession(ctx, "garbage", nil); ok || err != nil {
			t.Errorf("ok %v, err %v; want nobody", ok, err)
		}
	})
	t.Run("ok, through the access token's claims", func(t *testing.T) {
		if sess, ok, err := f.svc.CurrentSession(ctx, "", &second.Claims); err != nil || !ok || sess.ID != first.Session.ID {
			t.Errorf("%v, %v, %v", sess.ID, ok, err)
		}
	})
	t.Run("nok, claims of another user for the session", func(t *testing.T) {
		forged := second.Claims
		forged.Subject = "someone-else"
		if _, ok, err := f.svc.CurrentSession(ctx, "", &forged); ok || err != nil {
			t.Errorf("ok %v, err %v; want nobody", ok, err)
		}
	})
	t.Run("nok, claims of an unknown session", func(t *testing.T) {
		if _, ok, err := f.svc.CurrentSession(ctx, "", &tokens.Claims{SessionID: "nope"}); ok || err != nil {
			t.Errorf("ok %v, err %v; want nobody", ok, err)
		}
	})
}

func TestLogoutScopes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		scope               Scope
		thisLive, otherLive bool
	}{
		{ScopeLocal, false, true},
		{ScopeOthers, true, false},
		{ScopeGlobal, false, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.scope), func(t *testing.T) {
			f := newFixture(t)
			this := f.register(t, "ada")
			other, err := f.svc.Login(ctx, "ada", pw, client)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Logout(ctx, this.Session, tc.scope, client); err != nil {
				t.Fatal(err)
			}
			_, thisErr := f.svc.Refresh(ctx, this.RefreshToken, client)
			_, otherErr := f.svc.Refresh(ctx, other.RefreshToken, client)
			if (thisErr == nil) != tc.thisLive || (otherErr == nil) != tc.otherLive {
				t.Errorf("this session: %v, other: %v; want live %v, %v", thisErr, otherErr, tc.thisLive, tc.otherLive)
			}
			if !tc.thisLive && !errors.Is(thisErr, ErrSessionRevoked) {
				t.Errorf("this session: %v, want ErrSessionRevoked", thisErr)
			}
			// Logging out of a session that already ended is no error.
			if err := f.svc.Logout(ctx, this.Session, tc.scope, client); err != nil {
				t.Errorf("second logout: %v", err)
			}
		})
	}
	t.Run("nok, unknown scope", func(t *testing.T) {
		f := newFixture(t)
		if err := f.svc.Logout(ctx, f.register(t, "ada").Session, "everything", client); err == nil {
			t.Error("an unknown scope was accepted")
		}
	})
}

func TestRevokeSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ada := f.register(t, "ada")
	f.clock.Advance(time.Second)
	bob := f.register(t, "bob")
	if err := f.svc.RevokeSession(ctx, bob.Session.UserID, bob.Session.ID, ada.Session.ID, client); !errors.Is(err, ErrNoSuchSession) {
		t.Fatalf("bob revoking ada's session: %v, want ErrNoSuchSession", err)
	}
	if _, err := f.svc.Refresh(ctx, ada.RefreshToken, client); err != nil {
		t.Fatalf("ada's session was harmed: %v", err)
	}
	if err := f.svc.RevokeSession(ctx, bob.Session.UserID, bob.Session.ID, bob.Session.ID, client); err != nil {
		t.Fatal(err)
	}
	var revoked *SessionRevokedError
	if _, err := f.svc.Refresh(ctx, bob.RefreshToken, client); !errors.As(err, &revoked) || revoked.Reason != "revoked" {
		t.Errorf("%v, want *SessionRevokedError (revoked)", err)
	}
}
