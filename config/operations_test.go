package config

import (
	"strings"
	"testing"
	"time"
)

func TestOperationsSettings(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    Operations
		wantErr string // prefix; "" for none
	}{
		{"ok, development defaults", nil, Operations{ShutdownDrain: 0, LogFormat: LogText}, ""},
		{"ok, production drains", map[string]string{"APP_ENV": "production", "KEY_ENCRYPTION_KEY": strings.Repeat("k", 32)},
			Operations{ShutdownDrain: ProductionShutdownDrain, LogFormat: LogText}, ""},
		{"ok, explicit", map[string]string{"SHUTDOWN_DRAIN": "3s", "METRICS_ADDR": "127.0.0.1:9090", "LOG_FORMAT": "JSON"},
			Operations{ShutdownDrain: 3 * time.Second, MetricsAddr: "127.0.0.1:9090", LogFormat: LogJSON}, ""},
		{"nok, drain too long", map[string]string{"SHUTDOWN_DRAIN": "2m"}, Operations{}, "SHUTDOWN_DRAIN"},
		{"nok, drain negative", map[string]string{"SHUTDOWN_DRAIN": "-1s"}, Operations{}, "SHUTDOWN_DRAIN"},
		{"nok, unknown log format", map[string]string{"LOG_FORMAT": "xml"}, Operations{}, "LOG_FORMAT"},
		{"nok, metrics on the public port", map[string]string{"ADDR": ":8080", "METRICS_ADDR": "127.0.0.1:8080"}, Operations{}, "METRICS_ADDR"},
		{"nok, metrics address without port", map[string]string{"METRICS_ADDR": "localhost"}, Operations{}, "METRICS_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(func(k string) string { return tt.vars[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Operations != tt.want {
				t.Errorf("got %+v, want %+v", c.Operations, tt.want)
			}
		})
	}
}
