package handlers

// The JSON of GET /api/me, written without reflection. encoding/json
// reaches the claims through reflection and calls golang-jwt's
// MarshalJSON for aud and each date, then compacts what they return: about
// as much CPU as the guard's whole cache hit. The output is byte for byte
// what c.JSON writes (TestClaimsJSONMatchesEncodingJSON compares them over
// a table and a fuzz corpus); ?pretty and Debug still go through c.JSON.

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// appendClaimsJSON appends cl as encoding/json's Encoder writes it (HTML
// escaping on, a newline at the end): the fields in struct order, the
// registered claims with their omitempty.
func appendClaimsJSON(b []byte, cl *tokens.Claims) []byte {
	if cl == nil {
		return append(b, "null\n"...)
	}
	b = append(b, `{"username":`...)
	b = appendJSONString(b, cl.Username)
	b = append(b, `,"sid":`...)
	b = appendJSONString(b, cl.SessionID)
	b = appendStringMember(b, "iss", cl.Issuer)
	b = appendStringMember(b, "sub", cl.Subject)
	if len(cl.Audience) > 0 {
		b = append(b, `,"aud":`...)
		if len(cl.Audience) == 1 && !jwt.MarshalSingleStringAsArray {
			b = appendJSONString(b, cl.Audience[0])
		} else {
			b = append(b, '[')
			for i, a := range cl.Audience {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, a)
			}
			b = append(b, ']')
		}
	}
	b = appendDateMember(b, "exp", cl.ExpiresAt)
	b = appendDateMember(b, "nbf", cl.NotBefore)
	b = appendDateMember(b, "iat", cl.IssuedAt)
	b = appendStringMember(b, "jti", cl.ID)
	return append(b, "}\n"...)
}

func appendStringMember(b []byte, name, v string) []byte {
	if v == "" {
		return b // omitempty
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return appendJSONString(b, v)
}

func appendDateMember(b []byte, name string, d *jwt.NumericDate) []byte {
	if d == nil {
		return b // omitempty
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	if jwt.TimePrecision == time.Second {
		// What NumericDate.MarshalJSON writes at whole seconds.
		return strconv.AppendInt(b, d.Truncate(time.Second).Unix(), 10)
	}
	out, _ := d.MarshalJSON() // never fails
	return append(b, out...)
}

// appendJSONString quotes s as encoding/json does: printable ASCII other
// than the quote, the backslash and <, >, & (HTML escaping) as it is;
// anything else through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
