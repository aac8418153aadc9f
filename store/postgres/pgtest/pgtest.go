// Package pgtest gives tests a PostgreSQL database of their own on the
// server TEST_DATABASE_URL names: a fresh schema per test, dropped when the
// test ends. Without TEST_DATABASE_URL the test is skipped, saying how to
// set it; under CI=true it fails instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerURL is the server the tests use, or a skip (a failure under
// CI, where a missing server must not pass as green).
func ServerURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		const why = "TEST_DATABASE_URL is not set: the PostgreSQL store is not tested " +
			"(set it to a server where the user may create schemas, for example " +
			"TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'; .ci/run does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	return u
}

// FreshURL creates a schema of the test's own on the test server,
// dropped when the test ends, and returns a URL whose connections use it
// (search_path), so tests share nothing.
func FreshURL(t *testing.T) string {
	t.Helper()
	base := ServerURL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	b := make([]byte, 8)
	rand.Read(b)
	schema := "tokenflow_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
