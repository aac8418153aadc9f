package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tokenflow/store"
)

// What a first-time user could register before the password policy: each
// is refused with 422, the reason next to the password field, no account
// and no cookies.
func TestRegisterRefusesWeakPasswordsAndSaysWhy(t *testing.T) {
	a := newTestApp(t)
	tests := []struct{ name, username, pw, message string }{
		{"nok, password", "alice", "password", "one of the most common passwords"},
		{"nok, 12345678", "alice", "12345678", "one of the most common passwords"},
		{"nok, common in capitals", "alice", "Password1", "one of the most common passwords"},
		{"nok, aaaaaaaa", "alice", "aaaaaaaa", "cannot be one character repeated"},
		{"nok, the username itself", "alicealice", "alicealice", "cannot be or contain your username"},
		{"nok, the username in capitals inside", "alice", "hello-ALICE-2026", "cannot be or contain your username"},
		{"nok, eight spaces", "alice", "        ", "cannot be only spaces"},
		{"nok, short", "alice", "k7#pQ2m", "at least 8 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertRegisterRefused(t, a, tt.username, tt.pw, tt.pw, "password", tt.message)
			if _, err := a.store.UserByUsername(context.Background(), tt.username); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("user %q exists after a refused registration (err %v)", tt.username, err)
			}
		})
	}
}

// An invalid username gets its own message, not a confusing "contains your
// username" on a password that merely shares two letters with it.
func TestRegisterInvalidUsernameDoesNotBlamePassword(t *testing.T) {
	a := newTestApp(t)
	w := a.browser().post("/auth/register", url.Values{"username": {"ho"}, "password": {"hold the door"}, "password_confirm": {"hold the door"}})
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", w.Code)
	}
	if strings.Contains(w.Body.String(), `data-testid="password-error"`) {
		t.Error("the password was blamed for an invalid username")
	}
}

// A username typed or pasted with spaces around it is the same account, at
// registration and at login.
func TestUsernameSpacesAroundAreTrimmed(t *testing.T) {
	a := newTestApp(t)
	a.mustRegister(t, "  grace ", goodPassword)
	if _, err := a.store.UserByUsername(context.Background(), "grace"); err != nil {
		t.Fatalf("registered as %q: %v", "grace", err)
	}
	a.mustLogin(t, "grace", goodPassword)
	a.mustLogin(t, " grace  ", goodPassword)
	w := a.browser().post("/auth/register", url.Values{"username": {"grace "}, "password": {goodPassword}, "password_confirm": {goodPassword}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "This username is taken.") {
		t.Errorf("registering %q again: status %d, want 422 taken", "grace ", w.Code)
	}
}
