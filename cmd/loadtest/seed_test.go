package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokenflow/password"
	"tokenflow/store"
	"tokenflow/store/postgres"
	"tokenflow/store/postgres/pgtest"
	"tokenflow/store/sqlite"
	"tokenflow/tokens"
)

// A seeded session is a real one: its token, presented as a browser would
// (hashed by tokens), finds a live session of a user whose password hash
// verifies; the dead ones are what the cleanup job deletes, and only them.
func TestSeedWritesRealSessionsAndCleanupDeletesTheDead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, tokensPath := filepath.Join(dir, "tokenflow.db"), filepath.Join(dir, "tokens")
	var out bytes.Buffer
	if err := run(ctx, []string{"seed", "-db", path, "-n", "30", "-dead", "10", "-tokens-out", tokensPath, "-sample", "5", "-password", "seeded secret"}, &out); err != nil {
		t.Fatalf("seed: %v\n%s", err, out.String())
	}
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	toks := checkSeeded(t, st, tokensPath, 5)
	st.Close()

	out.Reset()
	if err := run(ctx, []string{"dbstat", "-db", path, "-cleanup", "-vacuum"}, &out); err != nil {
		t.Fatalf("dbstat: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "removed 10 sessions") {
		t.Errorf("cleanup did not remove the 10 dead sessions:\n%s", out.String())
	}
	st, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tok := range toks {
		hash, _ := tokens.HashRefreshToken(tok)
		if _, err := st.SessionByRefreshHash(ctx, hash); err != nil {
			t.Errorf("a live seeded session is gone after cleanup: %v", err)
		}
	}
}

// The PostgreSQL seed writes the same real sessions: the plaintexts it
// writes out are the tokens PostgreSQL hashed for the rows.
func TestSeedPostgresWritesRealSessions(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.FreshURL(t)
	tokensPath := filepath.Join(t.TempDir(), "tokens")
	var out bytes.Buffer
	if err := run(ctx, []string{"seed", "-database-url", dbURL, "-n", "20", "-tokens-out", tokensPath, "-sample", "5", "-password", "seeded secret"}, &out); err != nil {
		t.Fatalf("seed: %v\n%s", err, out.String())
	}
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkSeeded(t, st, tokensPath, 5)
}

// checkSeeded reads the want plaintexts seed wrote to tokensPath and checks
// that each finds, through the store, an active session of its own whose
// user's password is "seeded secret". It returns the tokens.
func checkSeeded(t *testing.T, st store.Store, tokensPath string, want int) []string {
	t.Helper()
	ctx := context.Background()
	b, err := os.ReadFile(tokensPath)
	if err != nil {
		t.Fatal(err)
	}
	toks := strings.Fields(string(b))
	if len(toks) != want {
		t.Fatalf("%d tokens written, want %d", len(toks), want)
	}
	hasher := password.NewHasher(password.DefaultParams(), 1)
	seen := map[string]bool{}
	for _, tok := range toks {
		hash, err := tokens.HashRefreshToken(tok)
		if err != nil {
			t.Fatalf("token %q is not shaped like a refresh token: %v", tok, err)
		}
		var sess store.Session
		var user store.User
		if err := st.InTx(ctx, func(tx store.Tx) (err error) {
			_, sess, user, err = tx.TokenForUpdate(ctx, hash)
			return err
		}); err != nil {
			t.Fatalf("TokenForUpdate(seeded token): %v", err)
		}
		if !sess.Active(time.Now()) {
			t.Errorf("seeded session %s is not active: %+v", sess.ID, sess)
		}
		if ok, err := hasher.Verify(ctx, "seeded secret", user.PasswordHash); err != nil || !ok {
			t.Errorf("user %s: password does not verify (%v, %v)", user.Username, ok, err)
		}
		seen[sess.ID] = true
	}
	if len(seen) != want {
		t.Errorf("%d tokens name %d sessions, want %d", want, len(seen), want)
	}
	return toks
}
