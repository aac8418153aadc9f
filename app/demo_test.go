package app

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"testing"

	"tokenflow/password"
)

// The demo account's password is made by the app, not chosen by a person,
// but it must pass the same policy, or the tutorial would teach a password
// the registration form refuses.
func TestDemoPasswordPassesThePasswordPolicy(t *testing.T) {
	for range 200 {
		pw, err := newDemoPassword(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := password.Check(pw, DemoUsername); err != nil {
			t.Fatalf("demo password %q: %v", pw, err)
		}
	}
}

// Random bytes that spell the username are rare but possible: the
// generator draws again instead of handing out a refused password.
func TestDemoPasswordRedrawsARefusedOne(t *testing.T) {
	spellsDemo, err := base64.RawURLEncoding.DecodeString("xxDemoxxDEMOxxxx")
	if err != nil {
		t.Fatal(err)
	}
	pw, err := newDemoPassword(io.MultiReader(bytes.NewReader(spellsDemo), rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	if pw == "xxDemoxxDEMOxxxx" || password.Check(pw, DemoUsername) != nil {
		t.Errorf("got the refused password %q", pw)
	}
}
