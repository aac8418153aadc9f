package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// NewJWKS fills in every optional setting left zero (or negative, for the
// intervals), and keeps one that was given.
func TestNewJWKSDefaults(t *testing.T) {
	defaults, err := NewJWKS(JWKSConfig{URL: "http://127.0.0.1:1/jwks.json", UnknownKidInterval: -time.Second, RetryInterval: -time.Second})
	if err != nil {
		t.Fatal(err)
	}
	zero, err := NewJWKS(JWKSConfig{URL: "http://127.0.0.1:1/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []*JWKS{defaults, zero} {
		cfg := j.cfg
		if cfg.Client == nil || cfg.Client.Timeout != 3*time.Second {
			t.Errorf("default client %+v, want a 3 s timeout", cfg.Client)
		}
		if cfg.DefaultMaxAge != 5*time.Minute || cfg.UnknownKidInterval != 10*time.Second || cfg.RetryInterval != 5*time.Second {
			t.Errorf("defaults: max-age %v, unknown-kid interval %v, retry %v; want 5m, 10s, 5s",
				cfg.DefaultMaxAge, cfg.UnknownKidInterval, cfg.RetryInterval)
		}
	}
	given, err := NewJWKS(JWKSConfig{URL: "http://127.0.0.1:1/jwks.json", DefaultMaxAge: 2 * time.Minute, UnknownKidInterval: time.Nanosecond, RetryInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := given.cfg; cfg.DefaultMaxAge != 2*time.Minute || cfg.UnknownKidInterval != time.Nanosecond || cfg.RetryInterval != time.Nanosecond {
		t.Errorf("given settings replaced: %v, %v, %v", cfg.DefaultMaxAge, cfg.UnknownKidInterval, cfg.RetryInterval)
	}
}

// max-age=0 is a valid directive (use the least age), not one to skip.
func TestJWKSMaxAgeZero(t *testing.T) {
	j, err := NewJWKS(JWKSConfig{URL: "http://127.0.0.1:1/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]time.Duration{
		"max-age=0":    MinJWKSMaxAge,
		"max-age=-1":   5 * time.Minute,
		"max-age=60":   time.Minute,
		"no-cache":     MinJWKSMaxAge,
		"max-age=9999": MaxJWKSMaxAge,
	} {
		if got := j.maxAge(header); got != want {
			t.Errorf("maxAge(%q) = %v, want %v", header, got, want)
		}
	}
}

// A JWKS body of exactly maxJWKSBytes is read; one byte more is refused.
func TestJWKSBodyLimit(t *testing.T) {
	const doc = `{"keys":[]}`
	for _, tc := range []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"ok, at the limit", maxJWKSBytes, false},
		{"nok, one byte over", maxJWKSBytes + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := doc + strings.Repeat(" ", tc.size-len(doc))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			j, err := NewJWKS(JWKSConfig{URL: srv.URL, Client: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Refresh(context.Background()); (err != nil) != tc.wantErr {
				t.Fatalf("Refresh of a %d-byte body: %v, want error %v", tc.size, err, tc.wantErr)
			}
		})
	}
}
