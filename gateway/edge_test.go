package gateway_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"

	"tokenflow/httpx/jwkstest"
)

// An Upgrade: websocket request made Echo's proxy hijack the connection and
// pipe raw bytes to the server behind: the first request kept the client's
// own X-Forwarded-For (the auth server, trusting the gateway's address,
// counted logins against whatever address the client named), and every
// later request on that connection reached the server unchecked, identity
// headers and all. Neither server behind the gateway speaks WebSocket.
func TestGatewayRefusesUpgradesSoNoRawTunnelOpens(t *testing.T) {
	f := newFixture(t)
	token := jwkstest.Token(t, f.key, "attacker", f.clock.Now())
	for _, tc := range []struct {
		name, first, second string
		target              *upstream
	}{
		{
			name: "auth path, spoofed X-Forwarded-For",
			first: "POST /auth/login HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"X-Forwarded-For: 203.0.113.9\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n",
			second: "POST /auth/login HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 203.0.113.10\r\nContent-Length: 0\r\n\r\n",
			target: f.auth,
		},
		{
			name:   "notes path, then a forged identity without a token",
			first:  "GET /api/notes HTTP/1.1\r\nHost: gw\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nAuthorization: Bearer " + token + "\r\n\r\n",
			second: "GET /api/notes HTTP/1.1\r\nHost: gw\r\nX-User-ID: victim\r\n\r\n",
			target: f.notes,
		},
		{
			name:   "h2c",
			first:  "GET /auth/login HTTP/1.1\r\nHost: gw\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
			second: "GET /api/notes HTTP/1.1\r\nHost: gw\r\nX-User-ID: victim\r\n\r\n",
			target: f.auth,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.auth.hits.Load() + f.notes.hits.Load()
			conn, err := net.Dial("tcp", strings.TrimPrefix(f.gw.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			var statuses []int
			for _, raw := range []string{tc.first, tc.second} {
				if _, err := conn.Write([]byte(raw)); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("after %d answers: %v", len(statuses), err)
				}
				resp.Body.Close()
				statuses = append(statuses, resp.StatusCode)
			}
			if statuses[0] != http.StatusBadRequest {
				t.Errorf("upgrade answered %d, want 400 from the gateway", statuses[0])
			}
			if h, _ := tc.target.lastRequest(); h != nil && (h.Get("X-User-ID") != "" || clientsOwnForwardedFor(h)) {
				t.Errorf("the server behind saw a header the gateway never checked: %v", h)
			}
			// The second request, without the upgrade, goes through the
			// gateway's checks: to auth (no token needed) or a 401.
			if tc.target == f.notes && statuses[1] != http.StatusUnauthorized {
				t.Errorf("forged identity without a token answered %d, want 401", statuses[1])
			}
			if got := f.auth.hits.Load() + f.notes.hits.Load() - before; tc.target == f.notes && got != 0 {
				t.Errorf("%d requests reached the servers behind, want 0", got)
			}
		})
	}
}

// clientsOwnForwardedFor: X-Forwarded-For is what the client wrote, without
// the address the gateway appends.
func clientsOwnForwardedFor(h http.Header) bool {
	xff := h.Get("X-Forwarded-For")
	return strings.HasPrefix(xff, "203.0.113.") && !strings.Contains(xff, ",")
}

// The gateway's rewrite sets X-Forwarded-Proto from its own view of the
// scheme, and by default Echo believes a client's X-Forwarded-Proto when
// the client connects from a loopback or private address (a LAN, a Docker
// bridge). The auth server trusts the gateway's word, so over plain HTTP
// it would have answered as if on HTTPS (HSTS, Secure cookies, an https
// jwks_uri) because the client said so. The gateway is the edge: only its
// own connection decides.
func TestGatewayDoesNotVouchForAClientsScheme(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"X-Forwarded-Proto", "X-Forwarded-Ssl", "X-Url-Scheme", "X-Forwarded-Protocol"} {
		value := map[string]string{"X-Forwarded-Ssl": "on"}[name]
		if value == "" {
			value = "https"
		}
		resp, _ := f.get(t, "/auth/login", http.Header{name: {value}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", name, resp.StatusCode)
		}
		h, _ := f.auth.lastRequest()
		if got := h.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
			t.Errorf("%s: %s from a plain-HTTP client reached the auth server as X-Forwarded-Proto %q, want [http]", name, value, got)
		}
	}
}

// A client naming the identity headers in Connection made the proxy treat
// them as hop-by-hop and drop the ones the gateway had just set: the notes
// service got a verified request with no identity headers at all.
func TestGatewayIdentityHeadersSurviveConnectionTokens(t *testing.T) {
	f := newFixture(t)
	token := jwkstest.Token(t, f.key, "u1", f.clock.Now())
	for _, connection := range []string{"X-User-ID, X-Session-ID, X-Username", "x-user-id", "keep-alive, X-Username,X-Session-Id"} {
		header := bearer(token)
		header["Connection"] = []string{connection}
		resp, _ := f.get(t, "/api/notes", header)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Connection: %s: status %d", connection, resp.StatusCode)
		}
		h, _ := f.notes.lastRequest()
		if h.Get("X-User-ID") != "u1" || h.Get("X-Session-ID") != "session-u1" || h.Get("X-Username") != "name-u1" {
			t.Errorf("Connection: %s: the notes service got identity headers %q %q %q", connection,
				h.Get("X-User-ID"), h.Get("X-Session-ID"), h.Get("X-Username"))
		}
	}
}

// The headers the gateway itself sets for the server behind (X-Real-IP,
// X-Forwarded-Proto, X-Forwarded-For, the request id) were set before the
// proxy removed the hop-by-hop headers, so a client naming them in
// Connection had them dropped: the auth server, which trusts the gateway's
// word, saw no scheme at all (behind a TLS gateway: no Secure cookies
// outside production, an http jwks_uri) and no request id to tie the logs.
func TestGatewayForwardingHeadersSurviveConnectionTokens(t *testing.T) {
	f := newFixture(t)
	for _, connection := range []string{
		"X-Forwarded-Proto, X-Real-IP, X-Request-Id",
		"x-forwarded-for,x-forwarded-proto",
		"keep-alive, X-Request-ID",
	} {
		resp, _ := f.get(t, "/auth/login", http.Header{"Connection": {connection}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Connection: %s: status %d", connection, resp.StatusCode)
		}
		h, _ := f.auth.lastRequest()
		if got := h.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
			t.Errorf("Connection: %s: X-Forwarded-Proto %q, want [http]", connection, got)
		}
		if got := h.Values("X-Real-Ip"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("Connection: %s: X-Real-IP %q, want the peer", connection, got)
		}
		if got := h.Get("X-Forwarded-For"); !strings.HasSuffix(got, "127.0.0.1") {
			t.Errorf("Connection: %s: X-Forwarded-For %q does not end with the peer", connection, got)
		}
		if id := resp.Header.Get("X-Request-Id"); id == "" || h.Get("X-Request-Id") != id {
			t.Errorf("Connection: %s: answered request id %q, forwarded %q", connection, id, h.Get("X-Request-Id"))
		}
	}
}
