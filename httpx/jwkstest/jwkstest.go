// Package jwkstest is a fake auth server for tests of verifiers that read
// a JWKS: it generates ES256 keys, publishes the ones asked for, counts the
// fetches, can be taken down or made to hold its answers, and signs tokens shaped like the auth
// server's (kid, typ at+jwt, iss, aud, sub, sid, username, iat, exp).
package jwkstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and Audience are what the tokens of Sign carry.
const (
	Issuer   = "tokenflow"
	Audience = "tokenflow"
)

// Key is an ES256 key pair with its kid (RFC 7638 thumbprint).
type Key struct {
	Private *ecdsa.PrivateKey
	Kid     string
}

// NewKey generates an ES256 key.
func NewKey(t testing.TB) Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x, y := coordinates(&priv.PublicKey)
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return Key{Private: priv, Kid: base64.RawURLEncoding.EncodeToString(sum[:])}
}

func coordinates(pub *ecdsa.PublicKey) (x, y string) {
	point, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(point[1:33]), base64.RawURLEncoding.EncodeToString(point[33:])
}

// JWK is the key's public JWK, as the auth server publishes it.
func (k Key) JWK() map[string]string {
	x, y := coordinates(&k.Private.PublicKey)
	return map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": k.Kid, "alg": "ES256", "use": "sig"}
}

// Server serves a JWKS at /.well-known/jwks.json.
type Server struct {
	*httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   []Key
	down   bool
	maxAge int

	held atomic.Pointer[hold] // set by Hold
}

// hold is what Hold keeps: entered closes at the first held fetch, release
// when the test ends.
type hold struct {
	entered, release chan struct{}
	once             sync.Once
}

// NewServer publishes keys with Cache-Control max-age=300.
func NewServer(t testing.TB, keys ...Key) *Server {
	t.Helper()
	s := &Server{keys: keys, maxAge: 300}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// JWKSURL is the document's address.
func (s *Server) JWKSURL() string { return s.URL + "/.well-known/jwks.json" }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/.well-known/jwks.json" {
		http.NotFound(w, r)
		return
	}
	s.fetches.Add(1)
	if h := s.held.Load(); h != nil {
		h.once.Do(func() { close(h.entered) })
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	doc := struct {
		Keys []map[string]string `json:"keys"`
	}{Keys: []map[string]string{}}
	for _, k := range s.keys {
		doc.Keys = append(doc.Keys, k.JWK())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", s.maxAge))
	_ = json.NewEncoder(w).Encode(doc)
}

// Fetches counts the JWKS requests served (failed ones included).
func (s *Server) Fetches() int64 { return s.fetches.Load() }

// Publish replaces the published keys.
func (s *Server) Publish(keys ...Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// SetDown makes the JWKS answer 503 (down) or the keys again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Hold makes every later fetch wait unanswered until the test ends (a slow
// auth server); the channel closes when the first held fetch arrives.
func (s *Server) Hold(t testing.TB) <-chan struct{} {
	h := &hold{entered: make(chan struct{}), release: make(chan struct{})}
	s.held.Store(h)
	t.Cleanup(func() { close(h.release) }) // before NewServer's Close: cleanups run last first
	return h.entered
}

// SetMaxAge sets the max-age the document is served with.
func (s *Server) SetMaxAge(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxAge = seconds
}

// Claims returns the claims of a valid token for user at now.
func Claims(user string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": Issuer, "aud": Audience, "sub": user, "sid": "session-" + user,
		"username": "name-" + user, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": "jti-" + user,
	}
}

// Sign signs claims with k, with kid and typ at+jwt in the header.
func Sign(t testing.TB, k Key, claims jwt.MapClaims) string {
	t.Helper()
	return SignHeader(t, jwt.SigningMethodES256, k.Private, map[string]any{"kid": k.Kid, "typ": "at+jwt"}, claims)
}

// SignHeader signs claims with key by method, under a header that is alg
// and exactly header (no typ unless header has one): for forgeries, a
// wrong key, a missing or wrong typ, a kid never published.
func SignHeader(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	delete(tok.Header, "typ")
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Token is Sign(k, Claims(user, now)).
func Token(t testing.TB, k Key, user string, now time.Time) string {
	t.Helper()
	return Sign(t, k, Claims(user, now))
}
