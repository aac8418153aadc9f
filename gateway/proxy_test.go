package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tokenflow/httpx/jwkstest"
)

// The upstream learns the peer's address from the gateway, never the
// client's word: X-Real-IP is overwritten, X-Forwarded-For ends with the
// peer, and the path and query arrive as sent.
func TestGatewayForwardsThePeer(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.get(t, "/auth/login?next=%2Fdashboard", http.Header{"X-Real-Ip": {"203.0.113.9"}, "X-Forwarded-For": {"198.51.100.1"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h, path := f.auth.lastRequest()
	if got := h.Values("X-Real-Ip"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("X-Real-IP %q, want the peer only", got)
	}
	if got := h.Get("X-Forwarded-For"); !strings.HasSuffix(got, ", 127.0.0.1") {
		t.Errorf("X-Forwarded-For %q does not end with the peer", got)
	}
	if path != "/auth/login?next=%2Fdashboard" {
		t.Errorf("upstream saw %q", path)
	}
}

// A service that does not answer is a 502 with fixed JSON: no address, no
// error text.
func TestGatewayAnswersBadGatewayWithoutDetail(t *testing.T) {
	f := newFixture(t)
	down, _ := url.Parse(f.auth.URL)
	f.auth.Close() // the auth server is gone
	resp, body := f.get(t, "/", nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if want := `{"error":"bad_gateway","message":"The service behind the gateway did not answer."}` + "\n"; body != want {
		t.Errorf("body %q, want %q", body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if strings.Contains(body, down.Host) {
		t.Errorf("the body names the upstream: %s", body)
	}
}

// Only the gateway speaks for the client: the client's own X-Forwarded-Host
// and Forwarded (RFC 7239) would reach a server behind that trusts the
// gateway's forwarding headers beside the gateway's X-Forwarded-*, and it
// would believe them (its host, scheme or client address).
func TestGatewayDropsTheClientsForwardedHost(t *testing.T) {
	f := newFixture(t)
	token := jwkstest.Token(t, f.key, "u1", f.clock.Now())
	forged := http.Header{
		"X-Forwarded-Host": {"evil.example"},
		"Forwarded":        {"for=203.0.113.9;proto=https;host=evil.example"},
	}
	for _, tc := range []struct {
		path   string
		target *upstream
	}{{"/auth/login", f.auth}, {"/api/notes", f.notes}} {
		header := bearer(token)
		for name, values := range forged {
			header[name] = values
		}
		resp, _ := f.get(t, tc.path, header)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", tc.path, resp.StatusCode)
		}
		h, _ := tc.target.lastRequest()
		for name := range forged {
			if v := h.Values(name); len(v) != 0 {
				t.Errorf("%s: the client's %s %q reached the server behind", tc.path, name, v)
			}
		}
	}
}
