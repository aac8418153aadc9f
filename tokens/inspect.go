package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

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
