package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenflow/gateway"
	"tokenflow/httpx"
	"tokenflow/httpx/jwkstest"
	"tokenflow/tokens"
)

// Under concurrent load the gateway keeps its connections to the service
// open: http.DefaultTransport keeps two idle connections per host, so every
// burst of more than two requests would open (and close) the rest anew, a
// TCP handshake per request and a socket left in TIME_WAIT.
func TestGatewayReusesUpstreamConnections(t *testing.T) {
	const burst, bursts = 8, 3
	var (
		newConns atomic.Int64
		arrived  sync.WaitGroup
		release  = make(chan struct{})
	)
	notes := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release // the whole burst in flight at once: burst connections
		io.WriteString(w, "[]")
	}))
	notes.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	notes.Start()
	t.Cleanup(notes.Close)

	key := jwkstest.NewKey(t)
	jwks := jwkstest.NewServer(t, key)
	now := time.Unix(1_800_000_000, 0)
	cache, err := httpx.NewJWKS(httpx.JWKSConfig{URL: jwks.JWKSURL(), Now: func() time.Time { return now }, Go: func(fn func()) { fn() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifier, err := cache.Verifier(tokens.VerifierConfig{Issuer: jwkstest.Issuer, Audience: jwkstest.Audience, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	notesURL, _ := url.Parse(notes.URL)
	e, err := gateway.New(gateway.Config{AuthURL: notesURL, NotesURL: notesURL, Verifier: verifier, AccessCookie: accessCookie})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(e)
	t.Cleanup(gw.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: burst}}
	token := jwkstest.Token(t, key, "u1", now)

	for range bursts {
		release = make(chan struct{})
		arrived.Add(burst)
		var done sync.WaitGroup
		for range burst {
			done.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/notes", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
				}
			})
		}
		arrived.Wait()
		close(release)
		done.Wait()
	}
	// One burst's worth, give or take a connection handed back a moment
	// after the next burst began; the default transport opens 6 more per burst.
	if n := newConns.Load(); n > burst+bursts {
		t.Fatalf("%d connections to the service for %d bursts of %d, want about %d", n, bursts, burst, burst)
	}
}
