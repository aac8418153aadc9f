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

// MaxLeeway is the largest clock skew a Manager tolerates.
const MaxLeeway = 5 * time.Second

// minSecretLength is a floor against obvious mistakes. The 32-byte rule for
// production is enforced where the configuration is loaded, so development
// and tests can use shorter keys.
const minSecretLength = 16

// ErrInvalidToken wraps every error returned by Manager.Verify. golang-jwt's
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

// Config configures a Manager.
type Config struct {
	// Secret is the HS256 key. Required; at least 16 bytes (production
	// configuration demands 32).
	Secret []byte
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
}

// Manager issues and verifies access tokens. It is safe for concurrent use.
type Manager struct {
	// method, signKey and verifyKey are the seam for asymmetric signing
	// (EdDSA/ES256/RS256 with kid and JWKS) later: only HS256 is built now,
	// and Verify never takes a key from the token itself.
	method    jwt.SigningMethod
	signKey   any
	verifyKey any

	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewManager checks cfg and returns a Manager. It refuses an empty or short
// secret, an empty issuer or audience, a TTL <= 0 and a leeway outside
// [0, MaxLeeway].
func NewManager(cfg Config) (*Manager, error) {
	switch {
	case len(cfg.Secret) == 0:
		return nil, errors.New("tokens: secret is empty")
	case len(cfg.Secret) < minSecretLength:
		return nil, fmt.Errorf("tokens: secret is %d bytes, want at least %d", len(cfg.Secret), minSecretLength)
	case cfg.Issuer == "":
		return nil, errors.New("tokens: issuer is empty")
	case cfg.Audience == "":
		return nil, errors.New("tokens: audience is empty")
	case cfg.TTL <= 0:
		return nil, fmt.Errorf("tokens: TTL %v must be positive", cfg.TTL)
	case cfg.Leeway < 0 || cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("tokens: leeway %v must be between 0 and %v", cfg.Leeway, MaxLeeway)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	// Copy the key so a caller reusing its slice cannot change it under us.
	secret := bytes.Clone(cfg.Secret)
	m := &Manager{
		method:    jwt.SigningMethodHS256,
		signKey:   secret,
		verifyKey: secret,
		issuer:    cfg.Issuer,
		audience:  cfg.Audience,
		ttl:       cfg.TTL,
		now:       now,
	}
	m.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{m.method.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		// Refuse non-canonical base64 (e.g. altered unused trailing bits),
		// so one signature has exactly one spelling.
		jwt.WithStrictDecoding(),
	)
	return m, nil
}

// TTL returns the access-token lifetime.
func (m *Manager) TTL() time.Duration { return m.ttl }

// Issue signs a new access token for the user in the session. It returns the
// claims it signed, with times truncated to seconds as they appear in the
// token. userID and sessionID must not be empty.
func (m *Manager) Issue(userID, username, sessionID string) (string, Claims, error) {
	return m.issue(userID, username, sessionID, m.now())
}

// IssueExpired signs a token like Issue, but one that expired a minute ago
// (well beyond MaxLeeway), as if its TTL had passed. It exists for the
// development tool that lets people watch a refresh happen; Verify refuses
// its tokens with jwt.ErrTokenExpired like any other expired token.
func (m *Manager) IssueExpired(userID, username, sessionID string) (string, Claims, error) {
	return m.issue(userID, username, sessionID, m.now().Add(-time.Minute-m.ttl))
}

// issue signs a token issued at iat, expiring TTL later.
func (m *Manager) issue(userID, username, sessionID string, iat time.Time) (string, Claims, error) {
	if userID == "" || sessionID == "" {
		return "", Claims{}, errors.New("tokens: issue: user id and session id are required")
	}
	claims := Claims{
		Username:  username,
		SessionID: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{m.audience},
			ExpiresAt: jwt.NewNumericDate(iat.Add(m.ttl)),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        RandomID(),
		},
	}
	return m.sign(claims)
}

func (m *Manager) sign(claims Claims) (string, Claims, error) {
	token, err := jwt.NewWithClaims(m.method, claims).SignedString(m.signKey)
	if err != nil {
		return "", Claims{}, fmt.Errorf("tokens: issue: %w", err)
	}
	return token, claims, nil
}

// Verify checks the token's signature (HS256 only, with the configured
// secret), iss, aud, exp (required), iat, nbf, and that sub, sid and iat are
// present. Every error wraps ErrInvalidToken and golang-jwt's sentinel for the
// cause, e.g. jwt.ErrTokenExpired (see Expired), jwt.ErrTokenSignatureInvalid,
// jwt.ErrTokenMalformed, jwt.ErrTokenRequiredClaimMissing.
func (m *Manager) Verify(token string) (*Claims, error) {
	if err := precheck(token); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	claims := &Claims{}
	_, err := m.parser.ParseWithClaims(token, claims, m.keyFunc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var missing []string
	if claims.Subject == "" {
		missing = append(missing, "sub")
	}
	if claims.SessionID == "" {
		missing = append(missing, "sid")
	}
	if claims.IssuedAt == nil {
		missing = append(missing, "iat")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %w: %s", ErrInvalidToken, jwt.ErrTokenRequiredClaimMissing, strings.Join(missing, ", "))
	}
	return claims, nil
}

// keyFunc hands golang-jwt the one key we trust. It never looks at the
// token's kid, jku, jwk or x5u headers: a token cannot choose its own key.
func (m *Manager) keyFunc(t *jwt.Token) (any, error) {
	if t.Method != m.method {
		return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
	}
	return m.verifyKey, nil
}

// Expired reports whether err says the token has expired, which is the one
// failure a client can cure by refreshing.
func Expired(err error) bool {
	return errors.Is(err, jwt.ErrTokenExpired)
}

// precheck refuses what golang-jwt would let through or spend effort on:
// oversized tokens; a header or payload that is not exactly one JSON object
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
