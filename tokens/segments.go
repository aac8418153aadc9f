package tokens

// How a compact JWT is taken apart: strictly before verification
// (precheck, which Verifier.Verify runs before golang-jwt sees the token)
// and loosely for display (Decode, for the token inspector).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenLength is the longest access token Verify looks at. Ours are about
// 400 bytes; anything this long is refused before any decoding work.
const MaxTokenLength = 8 << 10

// ErrMalformedToken is returned by Decode for anything that is not three
// base64url segments with a JSON object in the first two.
var ErrMalformedToken = errors.New("tokens: malformed token")

// Parts is a JWT taken apart for display. Nothing in it has been verified.
type Parts struct {
	// HeaderSegment, PayloadSegment and SignatureSegment are the token's
	// three base64url segments, as they appear in the token.
	HeaderSegment    string
	PayloadSegment   string
	SignatureSegment string
	// HeaderJSON and PayloadJSON are the decoded segments, indented, keys in
	// the token's order.
	HeaderJSON  string
	PayloadJSON string
	// Header and Payload are the decoded JSON objects. Numbers are
	// json.Number, so exp and iat keep their exact digits.
	Header  map[string]any
	Payload map[string]any
}

// Decode splits a token into its three segments and decodes the header and
// payload WITHOUT checking the signature or any claim. It exists for the
// token inspector, which shows a token that Verify has already accepted.
// Never use its result to decide anything (who the user is, whether the
// token is valid): use Manager.Verify for that.
func Decode(token string) (Parts, error) {
	if len(token) > MaxTokenLength {
		return Parts{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, MaxTokenLength)
	}
	segments := strings.SplitN(token, ".", 4)
	if len(segments) != 3 {
		return Parts{}, fmt.Errorf("%w: want 3 segments", ErrMalformedToken)
	}
	p := Parts{HeaderSegment: segments[0], PayloadSegment: segments[1], SignatureSegment: segments[2]}
	var err error
	if p.Header, p.HeaderJSON, err = decodeSegment(segments[0]); err != nil {
		return Parts{}, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	if p.Payload, p.PayloadJSON, err = decodeSegment(segments[1]); err != nil {
		return Parts{}, fmt.Errorf("%w: payload: %w", ErrMalformedToken, err)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(segments[2]); err != nil {
		return Parts{}, fmt.Errorf("%w: signature: %w", ErrMalformedToken, err)
	}
	return p, nil
}

func decodeSegment(segment string) (map[string]any, string, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		return nil, "", err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, "", err
	}
	if obj == nil {
		return nil, "", errors.New("not a JSON object")
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		return nil, "", err
	}
	return obj, pretty.String(), nil
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
