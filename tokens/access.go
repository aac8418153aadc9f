// Package tokens issues and verifies the short-lived access tokens (JWTs)
// and creates the opaque refresh tokens of tokenflow. It knows nothing about
// HTTP: handlers decide where tokens travel and how failures are reported.
package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenLength is the longest access token Verify looks at. Ours are about
// 400 bytes; anything this long is refused before any decoding work.
const MaxTokenLength = 8 << 10

// ErrInvalidToken wraps every error returned by Verifier.Verify. golang-jwt's
// sentinels (jwt.ErrTokenExpired, jwt.ErrTokenSignatureInvalid, ...) stay
// reachable through errors.Is on the same error.
var ErrInvalidToken = errors.New("tokens: invalid access token")

// Claims are the claims of a tokenflow access token. Subject is the user id,
// ID (jti) a random 128-bit value. Nothing here is secret: the payload is only
// base64url-encoded.
type Claims struct {
	Username  string `json:"username"`
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// Validate checks the claims golang-jwt does not know are required: sub,
// sid and iat. The parser calls it (jwt.ClaimsValidator) after the
// registered claims; the error wraps jwt.ErrTokenRequiredClaimMissing.
func (c Claims) Validate() error {
	var missing []string
	if c.Subject == "" {
		missing = append(missing, "sub")
	}
	if c.SessionID == "" {
		missing = append(missing, "sid")
	}
	if c.IssuedAt == nil {
		missing = append(missing, "iat")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", jwt.ErrTokenRequiredClaimMissing, strings.Join(missing, ", "))
	}
	return nil
}

var _ jwt.ClaimsValidator = Claims{}

// Config configures a Manager: one HS256 key, as set by JWT_SECRET, or a
// Keyring whose keys rotate.
type Config struct {
	// Secret is the HS256 key. Required unless Keys is set; at least
	// MinSecretLength bytes (production asks for MinProductionSecretLength).
	Secret []byte
	// Keys is the keyring to sign and verify with. Optional; when set,
	// Secret must be empty.
	Keys *Keyring
	// Issuer is written to and required in the iss claim. Required.
	Issuer string
	// Audience is written to and required in the aud claim. Required.
	Audience string
	// TTL is the access-token lifetime. Required, > 0.
	TTL time.Duration
	// Leeway is the clock skew allowed when checking exp, iat and nbf.
	// Optional. Default 0; at most MaxLeeway.
	Leeway time.Duration
	// Now is the clock used both to stamp and to verify tokens.
	// Optional. Default time.Now.
	Now func() time.Time
	// VerifiedCacheSize: see VerifierConfig.CacheSize. Optional. Default 0.
	VerifiedCacheSize int
}

// Manager is the auth server's pair: an Issuer and a Verifier sharing one
// key set. Services that only check tokens use a Verifier alone.
type Manager struct {
	*Issuer
	*Verifier
	keys *Keyring
}

// NewManager checks cfg and returns a Manager. It refuses an empty or short
// secret, an empty issuer or audience, a TTL <= 0 and a leeway outside
// [0, MaxLeeway].
func NewManager(cfg Config) (*Manager, error) {
	ring := cfg.Keys
	verifierConfig := VerifierConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.Leeway, Now: cfg.Now, CacheSize: cfg.VerifiedCacheSize}
	var verifier *Verifier
	if ring == nil {
		keys, err := NewHS256KeySet(cfg.Secret)
		if err != nil {
			return nil, err
		}
		if ring, err = NewKeyring(keys); err != nil {
			return nil, err
		}
		if verifier, err = NewVerifier(keys.Verification(), verifierConfig); err != nil {
			return nil, err
		}
	} else {
		if len(cfg.Secret) > 0 {
			return nil, errors.New("tokens: manager: both a secret and a keyring")
		}
		var err error
		if verifier, err = NewKeyringVerifier(ring, verifierConfig); err != nil {
			return nil, err
		}
	}
	issuer, err := NewKeyringIssuer(ring, IssuerConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TTL, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	return &Manager{Issuer: issuer, Verifier: verifier, keys: ring}, nil
}

// Keys returns the manager's key set in use now.
func (m *Manager) Keys() *KeySet { return m.keys.Load() }

// Keyring returns the manager's keyring, for a second Issuer that follows
// the same rotations (the development tool's, with a shifted clock).
func (m *Manager) Keyring() *Keyring { return m.keys }

// Expired reports whether err says the token has expired, which is the one
// failure a client can cure by refreshing.
func Expired(err error) bool {
	return errors.Is(err, jwt.ErrTokenExpired)
}

// keyHints are the header parameters that point a verifier at a key (RFC
// 7515 §4.1.2-4.1.6). Our tokens never carry them; a token that does is
// trying to choose its own key, so it is refused outright rather than
// merely ignored.
var keyHints = []string{"jku", "jwk", "x5u", "x5c"}

// precheck refuses what golang-jwt would let through or spend effort on:
// oversized tokens; key hints (keyHints); a header or payload that is not exactly one JSON object
// with unique member names (see strictObject); a crit header, which names
// extensions the verifier must understand (RFC 7515 §4.1.11) and we
// understand none; and exp, iat or nbf written as anything but a JSON number
// (jwt.NumericDate also accepts "exp":"1700000000").
func precheck(token string) error {
	if len(token) > MaxTokenLength {
		return fmt.Errorf("%w: token is %d bytes, limit %d", jwt.ErrTokenMalformed, len(token), MaxTokenLength)
	}
	parts := strings.SplitN(token, ".", 4)
	if len(parts) != 3 {
		return fmt.Errorf("%w: token does not have 3 segments", jwt.ErrTokenMalformed)
	}
	header, err := strictSegment("header", parts[0])
	if err != nil {
		return err
	}
	if _, ok := header["crit"]; ok {
		return fmt.Errorf("%w: header: crit names extensions this verifier does not understand", jwt.ErrTokenMalformed)
	}
	for _, hint := range keyHints {
		if _, ok := header[hint]; ok {
			return fmt.Errorf("%w: header: %s: keys come from the verifier's own set, never from the token", jwt.ErrTokenUnverifiable, hint)
		}
	}
	payload, err := strictSegment("payload", parts[1])
	if err != nil {
		return err
	}
	for name, first := range payload {
		// encoding/json matches struct fields case-insensitively, so "EXP"
		// would land in ExpiresAt too.
		if !strings.EqualFold(name, "exp") && !strings.EqualFold(name, "iat") && !strings.EqualFold(name, "nbf") {
			continue
		}
		if _, ok := first.(json.Number); !ok {
			return fmt.Errorf("%w: claim %q is not a JSON number", jwt.ErrTokenMalformed, name)
		}
	}
	return nil
}

// strictSegment decodes one base64url segment and checks it with
// strictObject. Errors wrap jwt.ErrTokenMalformed and name the segment.
func strictSegment(name, segment string) (map[string]json.Token, error) {
	data, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64url: %w", jwt.ErrTokenMalformed, name, err)
	}
	members, err := strictObject(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", jwt.ErrTokenMalformed, name, err)
	}
	return members, nil
}

// strictObject checks that data is one JSON object and nothing else (not
// even trailing whitespace), in which no object, at any depth, has two
// member names that are equal or differ only in case. golang-jwt decodes
// with encoding/json, which keeps the last of duplicate names and matches
// struct fields case-insensitively: {"sub":"a","SUB":"b"} would verify as
// user b, while a strict JSON reader (or a log line) sees user a. One
// spelling, one meaning.
//
// It returns the top-level members, each with the first token of its value
// (a json.Number, string, bool, nil, or json.Delim for an object or array).
// Nesting is bounded by MaxTokenLength.
func strictObject(data []byte) (map[string]json.Token, error) {
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	members := map[string]json.Token{}
	if err := readObjectMembers(dec, members); err != nil {
		return nil, err
	}
	if dec.InputOffset() != int64(len(data)) {
		return nil, errors.New("data after the JSON object")
	}
	return members, nil
}

// readObjectMembers reads the rest of an object whose "{" was just read, up
// to and including its "}", refusing duplicate names. When top is not nil it
// receives each member's name and the first token of its value.
func readObjectMembers(dec *json.Decoder, top map[string]json.Token) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, ok := tok.(string)
		if !ok {
			return errors.New("object member name is not a string")
		}
		folded := foldName(name)
		if seen[folded] {
			return fmt.Errorf("member %q appears twice (names are compared ignoring case)", name)
		}
		seen[folded] = true
		first, err := dec.Token()
		if err != nil {
			return err
		}
		if top != nil {
			top[name] = first
		}
		if err := readValueRest(dec, first); err != nil {
			return err
		}
	}
	_, err := dec.Token() // the closing "}"
	return err
}

// readValueRest reads the rest of a value whose first token is first: the
// members of an object, the elements of an array, nothing for a scalar.
func readValueRest(dec *json.Decoder, first json.Token) error {
	switch first {
	case json.Delim('{'):
		return readObjectMembers(dec, nil)
	case json.Delim('['):
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			if err := readValueRest(dec, tok); err != nil {
				return err
			}
		}
		_, err := dec.Token() // the closing "]"
		return err
	}
	return nil
}

// foldName maps names that encoding/json treats as the same struct field to
// one string: each rune becomes the smallest rune of its simple case-folding
// orbit, as encoding/json's own folding does, so "SUB", "sub" and "\u017fub"
// (long s) fold alike. foldName(a) == foldName(b) exactly when
// strings.EqualFold(a, b).
func foldName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				r = next
				break
			}
			r = next
		}
		b.WriteRune(r)
	}
	return b.String()
}
