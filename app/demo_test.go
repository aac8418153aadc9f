package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tokenflow/password"
	"tokenflow/store/sqlite"
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

// With the store elsewhere (PostgreSQL), nothing else creates the data
// folder: the demo account still gets its saved password, 0600 in a 0700
// folder, and a second start prints it again.
func TestDemoUserCreatesItsDataFolder(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := filepath.Join(t.TempDir(), "not", "yet")
	h := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1)
	var out bytes.Buffer
	if err := ensureDemoUser(context.Background(), st, h, dir, &out); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "demo-password"): 0o600} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, info.Mode().Perm(), want)
		}
	}
	out.Reset()
	if err := ensureDemoUser(context.Background(), st, h, dir, &out); err != nil || !strings.Contains(out.String(), "demo account: username") {
		t.Errorf("second start: %v, printed %q", err, out.String())
	}
}
