package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.Env != Development || c.AccessTokenTTL != 5*time.Minute || c.RefreshTokenTTL != 168*time.Hour ||
		c.SessionMaxAge != 720*time.Hour || c.RefreshReuseGrace != 10*time.Second || c.JWTIssuer != "tokenflow" ||
		c.JWTAudience != "tokenflow" || c.LoginFailureLimit != 5 || c.IPFailureLimit != 50 || c.RegisterRateLimit != 30 ||
		c.LoginRateLimit != 100 || c.MaxSessionsPerUser != 10 || len(c.Notices) != 0 ||
		c.JWTSecret != nil || !c.DemoUser || c.SQLitePath() != "data/tokenflow.db" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadRejectsBadValuesNamingTheSetting(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		setting string
	}{
		{"nok, duration not a duration", map[string]string{"ACCESS_TOKEN_TTL": "banana"}, "ACCESS_TOKEN_TTL"},
		{"nok, negative duration", map[string]string{"REFRESH_REUSE_GRACE": "-1s"}, "REFRESH_REUSE_GRACE"},
		{"nok, number without unit", map[string]string{"SESSION_MAX_AGE": "720"}, "SESSION_MAX_AGE"},
		{"nok, limit not a number", map[string]string{"LOGIN_FAILURE_LIMIT": "five"}, "LOGIN_FAILURE_LIMIT"},
		{"nok, limit zero", map[string]string{"IP_FAILURE_LIMIT": "0"}, "IP_FAILURE_LIMIT"},
		{"nok, unknown environment", map[string]string{"APP_ENV": "prod"}, "APP_ENV"},
		{"nok, explicit refresh TTL longer than an explicit max age", map[string]string{"REFRESH_TOKEN_TTL": "24h", "SESSION_MAX_AGE": "12h"}, "REFRESH_TOKEN_TTL"},
		{"nok, login rate limit zero", map[string]string{"LOGIN_RATE_LIMIT": "0"}, "LOGIN_RATE_LIMIT"},
		{"nok, session cap not a number", map[string]string{"MAX_SESSIONS_PER_USER": "ten"}, "MAX_SESSIONS_PER_USER"},
		{"nok, no hashing workers", map[string]string{"PASSWORD_HASH_WORKERS": "0"}, "PASSWORD_HASH_WORKERS"},
		{"nok, hashing workers not a number", map[string]string{"PASSWORD_HASH_WORKERS": "all"}, "PASSWORD_HASH_WORKERS"},
		{"nok, bad proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.1, nonsense"}, "TRUSTED_PROXIES"},
		{"nok, access longer than refresh", map[string]string{"ACCESS_TOKEN_TTL": "200h"}, "ACCESS_TOKEN_TTL"},
		{"nok, refresh longer than max age", map[string]string{"REFRESH_TOKEN_TTL": "800h"}, "REFRESH_TOKEN_TTL"},
		{"nok, production HS256 without secret", map[string]string{"APP_ENV": "production", "JWT_ALG": "HS256"}, "JWT_SECRET"},
		{"nok, production ES256 without key encryption key", map[string]string{"APP_ENV": "production"}, "KEY_ENCRYPTION_KEY"},
		{"nok, production EdDSA with only a JWT secret", map[string]string{"APP_ENV": "production", "JWT_ALG": "EdDSA", "JWT_SECRET": strings.Repeat("k", 32)}, "KEY_ENCRYPTION_KEY"},
		{"nok, rotation within the publication delay", map[string]string{"JWT_KEY_ROTATION": "10m"}, "JWT_KEY_ROTATION"},
		{"nok, public URL with a query", map[string]string{"PUBLIC_URL": "https://auth.example.com?x=1"}, "PUBLIC_URL"},
		{"nok, public URL without scheme", map[string]string{"PUBLIC_URL": "auth.example.com"}, "PUBLIC_URL"},
		{"nok, negative leeway", map[string]string{"ACCESS_TOKEN_LEEWAY": "-1s"}, "ACCESS_TOKEN_LEEWAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.setting+":") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q should be one line starting with %s:", err, tt.setting)
			}
		})
	}
}

func TestLoadAsymmetricDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"APP_ENV": "production", "KEY_ENCRYPTION_KEY": strings.Repeat("k", 32)}))
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTAlg != "ES256" || !c.Asymmetric() || c.JWTKeyRotation != 720*time.Hour || c.JWKSMaxAge != 5*time.Minute || c.PublicURL != "" {
		t.Fatalf("%+v", c)
	}
}

func TestLoadProduction(t *testing.T) {
	c, err := Load(env(map[string]string{
		"APP_ENV": "production", "JWT_ALG": "HS256", "JWT_SECRET": strings.Repeat("k", 32),
		"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5", "ACCESS_TOKEN_TTL": "20s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Production() || c.DemoUser || string(c.JWTSecret) != strings.Repeat("k", 32) || c.AccessTokenTTL != 20*time.Second {
		t.Fatalf("%+v", c)
	}
	if c.AccessTokenLeeway != 5*time.Second {
		t.Errorf("leeway default %v, want 5s", c.AccessTokenLeeway)
	}
	for _, v := range []string{"0", "0s", "2s", "5s"} {
		if _, err := Load(env(map[string]string{"ACCESS_TOKEN_LEEWAY": v})); err != nil {
			t.Errorf("ACCESS_TOKEN_LEEWAY=%s refused: %v", v, err)
		}
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[0].String() != "10.0.0.0/8" || c.TrustedProxies[1].String() != "192.168.1.5/32" {
		t.Fatalf("proxies %v", c.TrustedProxies)
	}
}

func TestLoadSQLitePaths(t *testing.T) {
	for url, want := range map[string]string{
		"":                      "data/tokenflow.db",
		"sqlite:/var/lib/tf.db": "/var/lib/tf.db",
		"file:rel/tf.db":        "rel/tf.db",
	} {
		c, err := Load(env(map[string]string{"DATABASE_URL": url}))
		if err != nil {
			t.Errorf("DATABASE_URL=%q: %v", url, err)
			continue
		}
		if got := c.SQLitePath(); got != want {
			t.Errorf("DATABASE_URL=%q: path %q, want %q", url, got, want)
		}
	}
}

func TestLoadRefreshRateLimit(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.RefreshRateLimit != 20 {
		t.Fatalf("default REFRESH_RATE_LIMIT = %d, %v; want 20", c.RefreshRateLimit, err)
	}
	if c, err := Load(env(map[string]string{"REFRESH_RATE_LIMIT": "60"})); err != nil || c.RefreshRateLimit != 60 {
		t.Errorf("REFRESH_RATE_LIMIT=60: %d, %v", c.RefreshRateLimit, err)
	}
	// The upper bound is the session service's (auth.CheckRefreshRateLimit).
	for _, v := range []string{"0", "-1", "many"} {
		_, err := Load(env(map[string]string{"REFRESH_RATE_LIMIT": v}))
		if err == nil || !strings.HasPrefix(err.Error(), "REFRESH_RATE_LIMIT:") {
			t.Errorf("REFRESH_RATE_LIMIT=%s: error %v, want one naming the setting", v, err)
		}
	}
}

func TestLoadAcceptsSensibleValues(t *testing.T) {
	t.Run("ok, a short SESSION_MAX_AGE alone caps the default REFRESH_TOKEN_TTL", func(t *testing.T) {
		c, err := Load(env(map[string]string{"SESSION_MAX_AGE": "12h"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.RefreshTokenTTL != 12*time.Hour || c.SessionMaxAge != 12*time.Hour {
			t.Errorf("REFRESH_TOKEN_TTL %v, SESSION_MAX_AGE %v; want both 12h", c.RefreshTokenTTL, c.SessionMaxAge)
		}
		if len(c.Notices) != 1 || !strings.Contains(c.Notices[0], "REFRESH_TOKEN_TTL") || !strings.Contains(c.Notices[0], "12h") ||
			strings.Contains(c.Notices[0], "\n") {
			t.Errorf("notices %q, want one line saying REFRESH_TOKEN_TTL was capped to 12h", c.Notices)
		}
	})
	t.Run("ok, an explicit REFRESH_TOKEN_TTL within SESSION_MAX_AGE is kept", func(t *testing.T) {
		c, err := Load(env(map[string]string{"SESSION_MAX_AGE": "12h", "REFRESH_TOKEN_TTL": "2h"}))
		if err != nil || c.RefreshTokenTTL != 2*time.Hour || len(c.Notices) != 0 {
			t.Errorf("%v, %v, notices %q", c.RefreshTokenTTL, err, c.Notices)
		}
	})
	t.Run("nok, a SESSION_MAX_AGE shorter than ACCESS_TOKEN_TTL still fails, naming ACCESS_TOKEN_TTL", func(t *testing.T) {
		_, err := Load(env(map[string]string{"SESSION_MAX_AGE": "1m"}))
		if err == nil || !strings.HasPrefix(err.Error(), "ACCESS_TOKEN_TTL:") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ok, REFRESH_REUSE_GRACE=0 is the strict setting", func(t *testing.T) {
		for _, v := range []string{"0", "0s"} {
			c, err := Load(env(map[string]string{"REFRESH_REUSE_GRACE": v}))
			if err != nil || c.RefreshReuseGrace != 0 {
				t.Errorf("REFRESH_REUSE_GRACE=%s: %v, %v", v, c.RefreshReuseGrace, err)
			}
		}
	})
	t.Run("ok, the new limits", func(t *testing.T) {
		c, err := Load(env(map[string]string{"LOGIN_RATE_LIMIT": "7", "MAX_SESSIONS_PER_USER": "3"}))
		if err != nil || c.LoginRateLimit != 7 || c.MaxSessionsPerUser != 3 {
			t.Errorf("%+v, %v", c, err)
		}
	})
	t.Run("ok, PASSWORD_HASH_WORKERS, unset means the password package's default", func(t *testing.T) {
		c, err := Load(env(map[string]string{"PASSWORD_HASH_WORKERS": "3"}))
		if err != nil || c.PasswordHashWorkers != 3 {
			t.Errorf("PASSWORD_HASH_WORKERS=3: %d, %v", c.PasswordHashWorkers, err)
		}
		if c, err := Load(env(nil)); err != nil || c.PasswordHashWorkers != 0 {
			t.Errorf("unset: %d, %v", c.PasswordHashWorkers, err)
		}
	})
}
