package handlers

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"tokenflow/store"
)

// The User-Agent goes into session rows and events as text: it is always
// made valid UTF-8 (net/http hands over bytes that are not, obs-text) and
// then cut to 256 bytes at a character boundary.
func TestClientUserAgent(t *testing.T) {
	a255 := strings.Repeat("a", 255)
	tests := []struct{ name, ua, want string }{
		{"ok, as sent", "Mozilla/5.0 Firefox/140.0", "Mozilla/5.0 Firefox/140.0"},
		{"ok, none", "", ""},
		{"ok, short, bytes that are not UTF-8 dropped", "x\xff", "x"},
		{"ok, long: cut to 256 bytes", strings.Repeat("a", 300), strings.Repeat("a", 256)},
		{"ok, long, the character the cut splits dropped", a255 + "é and more", a255},
		{"ok, long, repaired before the cut", "\xff\xfe" + strings.Repeat("a", 300), strings.Repeat("a", 256)},
	}
	e := newTestApp(t).e
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("User-Agent", tt.ua)
			got := client(e.NewContext(r, httptest.NewRecorder())).UserAgent
			if got != tt.want {
				t.Errorf("client(%q).UserAgent = %q, want %q", tt.ua, got, tt.want)
			}
		})
	}
}

// Each string of the request that is stored (the User-Agent and the
// address in sessions and events, the username looked up and counted by
// the throttle) reaches the store as valid text, or the request is refused
// as bad input: on PostgreSQL, which refuses text that is not UTF-8, a
// login, refresh, logout or revocation by such a client was a 500, and a
// reuse revocation it triggered was rolled back.
func TestStoredRequestTextIsValidOnEveryBackend(t *testing.T) {
	onBackends(t, func(t *testing.T, use func(*testDeps)) {
		t.Run("a User-Agent that is not UTF-8", func(t *testing.T) {
			a := newTestApp(t, use)
			a.mustRegister(t, "oddagent", goodPassword)
			const oddAgent = "x\xff"
			idOf := func(b *browser) string { // "": no session
				cl, err := a.tokens.Verify(b.cookie(AccessCookie))
				if err != nil {
					return ""
				}
				return cl.SessionID
			}
			// Each step but the login from a session of its own, logged in
			// as usual, so each is seen to fail or pass on its own.
			oddSession := func() *browser {
				b := a.mustLogin(t, "oddagent", goodPassword)
				b.userAgent = oddAgent
				return b
			}
			steps := []struct {
				name       string
				do         func() (sessionID string, w *httptest.ResponseRecorder)
				wantStatus int
				wantReason string // "": the session lives on, used by the odd client
			}{
				{"login", func() (string, *httptest.ResponseRecorder) {
					b := a.browser()
					b.userAgent = oddAgent
					w := b.post("/auth/login", url.Values{"username": {"oddagent"}, "password": {goodPassword}})
					return idOf(b), w
				}, http.StatusSeeOther, ""},
				{"refresh", func() (string, *httptest.ResponseRecorder) {
					b := oddSession()
					return idOf(b), b.fetchRefresh()
				}, http.StatusOK, ""},
				{"logout", func() (string, *httptest.ResponseRecorder) {
					b := oddSession()
					id := idOf(b)
					return id, b.post("/auth/logout", nil)
				}, http.StatusSeeOther, store.EventLogout},
				{"the sessions page", func() (string, *httptest.ResponseRecorder) {
					b, other := oddSession(), a.mustLogin(t, "oddagent", goodPassword)
					id := idOf(other)
					return id, b.post("/sessions/"+id+"/revoke", nil)
				}, http.StatusSeeOther, store.EventRevoked},
				// A rotated token again, past the grace window: theft, and
				// the session ends, whoever's client presents it.
				{"reuse", func() (string, *httptest.ResponseRecorder) {
					owner := a.mustLogin(t, "oddagent", goodPassword)
					stolen := owner.cookie(RefreshCookie)
					if w := owner.fetchRefresh(); w.Code != http.StatusOK {
						t.Fatalf("the owner's refresh: %d", w.Code)
					}
					a.clock.Advance(2 * a.settings.RefreshReuseGrace)
					thief := a.browser()
					thief.userAgent = oddAgent
					thief.cookies[RefreshCookie] = &http.Cookie{Name: RefreshCookie, Value: stolen, Path: "/auth"}
					return idOf(owner), thief.fetchRefresh()
				}, http.StatusUnauthorized, store.EventReuseDetected},
			}
			for _, step := range steps {
				t.Run(step.name, func(t *testing.T) {
					id, w := step.do()
					if w.Code != step.wantStatus {
						t.Errorf("status %d, want %d", w.Code, step.wantStatus)
					}
					if id == "" {
						t.Fatal("no session to look at")
					}
					ctx := context.Background()
					sess, err := a.store.Session(ctx, id)
					if err != nil || sess.RevokeReason != step.wantReason || (step.wantReason == "" && sess.UserAgent != "x") {
						t.Errorf("session = %+v, %v; want revoke reason %q, used by User-Agent %q", sess, err, step.wantReason, "x")
					}
					events, err := a.store.SessionEvents(ctx, id, 1)
					if err != nil || len(events) != 1 || events[0].UserAgent != "x" {
						t.Errorf("newest event = %+v, %v; want the odd client's, User-Agent %q", events, err, "x")
					}
				})
			}
		})
		t.Run("the address", func(t *testing.T) {
			a := newTestApp(t, use, withTrustedProxies("10.0.0.0/24"))
			for _, xff := range []string{"x\xff", "a\x00b", "198.51.100.7\xff"} {
				w := loginFrom(a, "10.0.0.1:1234", xff, "nobody", "wrong password")
				if w.Code != http.StatusUnauthorized {
					t.Errorf("login through a proxy that forwarded %q: %d, want 401", xff, w.Code)
				}
			}
			b := a.browser()
			r := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(url.Values{
				"username": {"proxied"}, "password": {goodPassword}, "password_confirm": {goodPassword},
			}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Forwarded-For", "x\xff")
			r.RemoteAddr = "10.0.0.1:1234"
			if w := b.do(r); w.Code != http.StatusSeeOther {
				t.Fatalf("register through the proxy: %d, want 303", w.Code)
			}
			if got := a.sessionOf(t, b).IP; got != "10.0.0.1" {
				t.Errorf("the session's address = %q, want the proxy's (the forwarded one does not parse)", got)
			}
		})
		t.Run("the username", func(t *testing.T) {
			a := newTestApp(t, use)
			for _, username := range []string{"a\x00b", "x\xff", "\xff\xfe"} {
				if w := login(a, username, goodPassword); w.Code != http.StatusBadRequest {
					t.Errorf("login as %q: %d, want 400", username, w.Code)
				}
				w := a.browser().post("/auth/register", url.Values{"username": {username}, "password": {goodPassword}, "password_confirm": {goodPassword}})
				if w.Code != http.StatusUnprocessableEntity {
					t.Errorf("register as %q: %d, want 422", username, w.Code)
				}
			}
		})
	})
}

// Over a real connection: net/http hands the handlers a User-Agent with a
// byte that is not UTF-8 (obs-text) as it came, and the login still works.
func TestUserAgentNotUTF8OverTheWire(t *testing.T) {
	onBackends(t, func(t *testing.T, use func(*testDeps)) {
		a := newTestApp(t, use)
		a.mustRegister(t, "wire", goodPassword)
		srv := httptest.NewServer(a.e)
		defer srv.Close()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := url.Values{"username": {"wire"}, "password": {goodPassword}}.Encode()
		req := "POST /auth/login HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n" +
			"User-Agent: x\xff\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
			"Content-Length: " + fmt.Sprint(len(body)) + "\r\nConnection: close\r\n\r\n" + body
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login with User-Agent x\\xff over the wire: %d, want 303", resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if c.Name != AccessCookie {
				continue
			}
			cl, err := a.tokens.Verify(c.Value)
			if err != nil {
				t.Fatal(err)
			}
			sess, err := a.store.Session(context.Background(), cl.SessionID)
			if err != nil || sess.UserAgent != "x" || !utf8.ValidString(sess.UserAgent) {
				t.Errorf("the session's User-Agent = %q, %v; want %q", sess.UserAgent, err, "x")
			}
			return
		}
		t.Error("no access cookie")
	})
}
