package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// ServiceConfig is the settings of the gateway and of the notes service:
// they verify tokens with the auth server's published keys and hold no
// secret of their own.
type ServiceConfig struct {
	Addr              string
	Env               string
	DataDir           string   // notes only: where its database lives
	AuthURL           *url.URL // the auth server; its JWKS is AuthURL/.well-known/jwks.json
	NotesURL          *url.URL // gateway only
	JWTIssuer         string
	JWTAudience       string
	AccessTokenLeeway time.Duration
	MetricsAddr       string // gateway only: where its metrics are served; "" turns them off
}

// Production reports whether APP_ENV=production.
func (c ServiceConfig) Production() bool { return c.Env == Production }

// JWKSURL is where the auth server publishes its keys.
func (c ServiceConfig) JWKSURL() string {
	return strings.TrimSuffix(c.AuthURL.String(), "/") + "/.well-known/jwks.json"
}

// LoadGateway reads the gateway's settings: ADDR, AUTH_URL and NOTES_URL
// (both required), JWT_ISSUER, JWT_AUDIENCE, ACCESS_TOKEN_LEEWAY, APP_ENV,
// METRICS_ADDR.
func LoadGateway(getenv func(string) string) (ServiceConfig, error) {
	c, r := loadService(getenv)
	c.NotesURL = r.upstreamURL("NOTES_URL")
	if c.MetricsAddr = r.str("METRICS_ADDR", ""); c.MetricsAddr != "" && r.err == nil {
		r.err = checkMetricsAddr(c.MetricsAddr, c.Addr)
	}
	return c, c.validateService(r)
}

// LoadNotes reads the notes service's settings: ADDR, AUTH_URL (required),
// DATA_DIR, JWT_ISSUER, JWT_AUDIENCE, ACCESS_TOKEN_LEEWAY, APP_ENV.
func LoadNotes(getenv func(string) string) (ServiceConfig, error) {
	c, r := loadService(getenv)
	c.DataDir = r.str("DATA_DIR", "data")
	return c, c.validateService(r)
}

func loadService(getenv func(string) string) (ServiceConfig, *reader) {
	r := &reader{getenv: getenv}
	return ServiceConfig{
		Addr:              r.str("ADDR", ":8080"),
		Env:               r.str("APP_ENV", Development),
		AuthURL:           r.upstreamURL("AUTH_URL"),
		JWTIssuer:         r.str("JWT_ISSUER", "tokenflow"),
		JWTAudience:       r.str("JWT_AUDIENCE", "tokenflow"),
		AccessTokenLeeway: r.leeway("ACCESS_TOKEN_LEEWAY", 5*time.Second),
	}, r
}

func (c ServiceConfig) validateService(r *reader) error {
	if r.err != nil {
		return r.err
	}
	switch c.Env {
	case Development, Production:
	default:
		return fmt.Errorf("APP_ENV: %q is not one of %q, %q", c.Env, Development, Production)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("ADDR: %q is not host:port (e.g. :8080): %v", c.Addr, err)
	}
	return nil
}

// upstreamURL reads a required http or https base URL without user info,
// query or fragment: the JWKS and proxied requests go exactly there.
func (r *reader) upstreamURL(name string) *url.URL {
	value := strings.TrimSpace(r.getenv(name))
	if value == "" {
		r.fail(name, value, "the base URL of a server, e.g. http://127.0.0.1:8081 (required)")
		return nil
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") {
		r.fail(name, value, "an http:// or https:// base URL with no path, user, query or fragment")
		return nil
	}
	u.Path = ""
	return u
}
