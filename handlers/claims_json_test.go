package handlers

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

// encodingJSON is what c.JSON writes for v.
func encodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestClaimsJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	full := tokens.Claims{Username: "alice", SessionID: "s1", RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "tokenflow", Subject: "u1", Audience: jwt.ClaimStrings{"tokenflow"},
		ExpiresAt: jwt.NewNumericDate(at.Add(5 * time.Minute)), NotBefore: jwt.NewNumericDate(at), IssuedAt: jwt.NewNumericDate(at), ID: "j1",
	}}
	for _, tc := range []struct {
		name   string
		claims *tokens.Claims
	}{
		{"ok, nil", nil},
		{"ok, empty", &tokens.Claims{}},
		{"ok, full", &full},
		{"ok, two audiences", func() *tokens.Claims { c := full; c.Audience = jwt.ClaimStrings{"a", "b"}; return &c }()},
		{"ok, empty audience slice", func() *tokens.Claims { c := full; c.Audience = jwt.ClaimStrings{}; return &c }()},
		{"ok, empty string audience", func() *tokens.Claims { c := full; c.Audience = jwt.ClaimStrings{""}; return &c }()},
		{"ok, no dates", func() *tokens.Claims {
			c := full
			c.ExpiresAt, c.NotBefore, c.IssuedAt = nil, nil, nil
			return &c
		}()},
		{"ok, before 1970", func() *tokens.Claims { c := full; c.IssuedAt = jwt.NewNumericDate(time.Unix(-1, -5)); return &c }()},
		{"ok, escapes", func() *tokens.Claims {
			c := full
			c.Username, c.Subject, c.ID = `<a href="x">&'\`+"\n\t\x00\x7f", "é ü 漢字 \u2028\u2029", "bad utf-8 \xff\xfe"
			c.Audience = jwt.ClaimStrings{"<", "&"}
			return &c
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := encodingJSON(t, tc.claims)
			if got := appendClaimsJSON(nil, tc.claims); !bytes.Equal(got, want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func FuzzClaimsJSON(f *testing.F) {
	f.Add("alice", "s1", "tokenflow", "u1", "aud", "j1", int64(1767323045), true)
	f.Add("<&>", "\xff", "\u2028", "\"", "\\", "\x00", int64(-1), false)
	f.Fuzz(func(t *testing.T, user, sid, iss, sub, aud, jti string, secs int64, twoAud bool) {
		c := &tokens.Claims{Username: user, SessionID: sid, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: iss, Subject: sub, Audience: jwt.ClaimStrings{aud}, ID: jti,
			ExpiresAt: jwt.NewNumericDate(time.Unix(secs, 0)), IssuedAt: jwt.NewNumericDate(time.Unix(secs/2, 999)),
		}}
		if twoAud {
			c.Audience = append(c.Audience, sub)
		}
		if got, want := appendClaimsJSON(nil, c), encodingJSON(t, c); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}
