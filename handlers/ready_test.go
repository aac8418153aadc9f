package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

type readinessFunc func(context.Context) error

func (f readinessFunc) Ready(ctx context.Context) error { return f(ctx) }

func TestReadyz(t *testing.T) {
	tests := []struct {
		name       string
		readiness  Readiness
		wantStatus int
		wantBody   string
	}{
		{"ok, no readiness: the store answers", nil, http.StatusOK, `"ready"`},
		{"ok, ready", readinessFunc(func(context.Context) error { return nil }), http.StatusOK, `"ready"`},
		{"nok, draining", readinessFunc(func(context.Context) error { return ErrDraining }), http.StatusServiceUnavailable, `"draining"`},
		{"nok, wrapped draining", readinessFunc(func(context.Context) error { return errors.Join(errors.New("x"), ErrDraining) }),
			http.StatusServiceUnavailable, `"draining"`},
		{"nok, not ready: the reason stays in the log", readinessFunc(func(context.Context) error {
			return errors.New("store: 3 migrations pending at /secret/path")
		}), http.StatusServiceUnavailable, `"unavailable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, func(d *testDeps) { d.Readiness = tt.readiness })
			res := a.browser().get("/readyz")
			if res.Code != tt.wantStatus || !strings.Contains(res.Body.String(), tt.wantBody) {
				t.Fatalf("GET /readyz: %d %s, want %d %s", res.Code, res.Body, tt.wantStatus, tt.wantBody)
			}
			if strings.Contains(res.Body.String(), "secret") {
				t.Errorf("the reason leaked: %s", res.Body)
			}
			if got := res.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			// Liveness is not readiness: a draining or unready instance is
			// still alive, so an orchestrator must not restart it.
			if res := a.browser().get("/healthz"); res.Code != http.StatusOK {
				t.Errorf("GET /healthz: %d", res.Code)
			}
		})
	}
}
