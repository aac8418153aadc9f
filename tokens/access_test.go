package tokens_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenflow/tokens"
)

const (
	testIssuer   = "tokenflow"
	testAudience = "tokenflow-web"
	testTTL      = 5 * time.Minute
	testLeeway   = 2 * time.Second
	testUserID   = "user-42"
	testUsername = "ada"
	testSession  = "session-7"
)

var (
	testSecret     = []byte("0123456789abcdef0123456789abcdef")
	attackerSecret = []byte("attacker-attacker-attacker-12345")
	// testNow is when the fixture's tokens are issued.
	testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// fixture is shared by every test in the package: one manager, one valid
// token and the attacker's keys (RSA key generation is slow under -race).
type fixture struct {
	manager *tokens.Manager
	token   string
	claims  tokens.Claims
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
}

var getFixture = sync.OnceValues(func() (*fixture, error) {
	m, err := tokens.NewManager(testConfig(testNow))
	if err != nil {
		return nil, err
	}
	tok, claims, err := m.Issue(testUserID, testUsername, testSession)
	if err != nil {
		return nil, err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &fixture{manager: m, token: tok, claims: claims, rsaKey: rsaKey, ecKey: ecKey}, nil
})

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f, err := getFixture()
	if err != nil {
		tb.Fatalf("fixture: %v", err)
	}
	return f
}

func testConfig(now time.Time) tokens.Config {
	return tokens.Config{
		Secret:   testSecret,
		Issuer:   testIssuer,
		Audience: testAudience,
		TTL:      testTTL,
		Leeway:   testLeeway,
		Now:      func() time.Time { return now },
	}
}

// managerAt returns a manager like the fixture's whose clock reads
// testNow+offset.
func managerAt(tb testing.TB, offset time.Duration) *tokens.Manager {
	tb.Helper()
	m, err := tokens.NewManager(testConfig(testNow.Add(offset)))
	if err != nil {
		tb.Fatalf("NewManager: %v", err)
	}
	return m
}

// validClaims returns the payload of a valid token issued at testNow, to be
// altered and re-signed by attack cases.
func validClaims() map[string]any {
	return map[string]any{
		"iss":      testIssuer,
		"sub":      testUserID,
		"aud":      []string{testAudience},
		"exp":      testNow.Add(testTTL).Unix(),
		"iat":      testNow.Unix(),
		"jti":      "c29tZS1yYW5kb20taWQ",
		"sid":      testSession,
		"username": testUsername,
	}
}

func claimsWith(edit func(map[string]any)) map[string]any {
	c := validClaims()
	edit(c)
	return c
}

// sign signs claims with golang-jwt, adding extra header fields.
func sign(tb testing.TB, method jwt.SigningMethod, key any, claims map[string]any, header map[string]any) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	maps.Copy(tok.Header, header)
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// assemble builds a token by hand from a header, claims and a raw signature
// segment, for tokens golang-jwt refuses to make.
func assemble(tb testing.TB, header, claims map[string]any, signature string) string {
	tb.Helper()
	return segment(tb, header) + "." + segment(tb, claims) + "." + signature
}

func segment(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func signatureOf(token string) string { return token[strings.LastIndexByte(token, '.')+1:] }

// hmacSHA256 signs by hand, for keys golang-jwt refuses to sign with (an
// empty one).
func hmacSHA256(tb testing.TB, key []byte, header, claims map[string]any) string {
	tb.Helper()
	signing := segment(tb, header) + "." + segment(tb, claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// hs256Header is the header golang-jwt writes, spelled by hand.
const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// payloadJSON is the valid claims as JSON text, with extra members (raw
// JSON, "" for none) written after them, for payloads no encoder would make
// (duplicate names).
func payloadJSON(extra string) string {
	b, err := json.Marshal(validClaims())
	if err != nil {
		panic(err)
	}
	if extra == "" {
		return string(b)
	}
	return strings.TrimSuffix(string(b), "}") + "," + extra + "}"
}

// rawHS256 signs a header and payload given as JSON text with the real key,
// exactly as written.
func rawHS256(header, payload string) func(testing.TB, *fixture) string {
	return func(tb testing.TB, _ *fixture) string {
		tb.Helper()
		signing := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		sig, err := jwt.SigningMethodHS256.Sign(signing, testSecret)
		if err != nil {
			tb.Fatalf("sign: %v", err)
		}
		return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
}

// verifyCase is one row of TestVerify: a token made from the fixture, the
// verifier's clock offset from testNow, and the sentinel the error must wrap
// besides tokens.ErrInvalidToken (nil: the token must verify).
type verifyCase struct {
	name  string
	token func(tb testing.TB, f *fixture) string
	at    time.Duration
	want  error
}

func verifyCases() []verifyCase {
	hs256 := func(claims map[string]any) func(testing.TB, *fixture) string {
		return func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS256, testSecret, claims, nil)
		}
	}
	// hs256Headers signs the valid claims with the real key under extra
	// header fields, so only the header can be why a row is refused.
	hs256Headers := func(header map[string]any) func(testing.TB, *fixture) string {
		return func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS256, testSecret, validClaims(), header)
		}
	}
	genuine := func(_ testing.TB, f *fixture) string { return f.token }
	cases := []verifyCase{
		{name: "ok, fresh token", token: genuine},
		{name: "ok, just before expiry", token: genuine, at: testTTL - time.Second},
		{name: "ok, expired but within leeway", token: genuine, at: testTTL + testLeeway - time.Second},
		{name: "ok, clock behind issuer within leeway", token: genuine, at: -testLeeway},
		{name: "ok, re-signed valid claims", token: hs256(validClaims())},
		{name: "ok, kid of the current key", token: hs256Headers(map[string]any{"kid": tokens.HS256Kid(testSecret)})},
		{name: "ok, no kid (issued before kids) with a one-key HS256 set", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS256, testSecret, validClaims(), nil)
		}},
		{name: "nok, unknown kid with the right secret", token: hs256Headers(map[string]any{"kid": "some-other-key"}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, kid path traversal with the right secret", token: hs256Headers(map[string]any{"kid": "../../etc/passwd"}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, kid path traversal signed with the file's contents", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS256, []byte("root:x:0:0:root:/root:/bin/bash\n"), validClaims(), map[string]any{"kid": "../../etc/passwd"})
		}, want: jwt.ErrTokenUnverifiable},
		{name: "nok, kid SQL injection with the right secret", token: hs256Headers(map[string]any{"kid": "' OR 1=1"}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, kid not a string", token: hs256Headers(map[string]any{"kid": map[string]any{"$ne": ""}}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, right kid with the attacker's secret", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS256, attackerSecret, validClaims(), map[string]any{"kid": tokens.HS256Kid(testSecret)})
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, right kid and secret, alg HS384", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS384, testSecret, validClaims(), map[string]any{"kid": tokens.HS256Kid(testSecret)})
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, jku elsewhere on a token signed with the real key", token: hs256Headers(map[string]any{"jku": "https://attacker.example/jwks.json"}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, x5u elsewhere on a token signed with the real key", token: hs256Headers(map[string]any{"x5u": "https://attacker.example/cert.pem"}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, jwk header on a token signed with the real key", token: func(tb testing.TB, _ *fixture) string {
			jwk := map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(testSecret)}
			return sign(tb, jwt.SigningMethodHS256, testSecret, validClaims(), map[string]any{"jwk": jwk})
		}, want: jwt.ErrTokenUnverifiable},
		{name: "nok, x5c header on a token signed with the real key", token: hs256Headers(map[string]any{"x5c": []string{"MIIB"}}), want: jwt.ErrTokenUnverifiable},
		{name: "ok, future nbf within leeway", token: hs256(claimsWith(func(c map[string]any) { c["nbf"] = testNow.Add(testLeeway).Unix() }))},

		{name: "nok, expired", token: genuine, at: testTTL + testLeeway, want: jwt.ErrTokenExpired},
		{name: "nok, expired long ago", token: genuine, at: 24 * time.Hour, want: jwt.ErrTokenExpired},
		{name: "nok, issued in the future", token: genuine, at: -testLeeway - time.Second, want: jwt.ErrTokenUsedBeforeIssued},
		{name: "nok, wrong alg HS384 with the right secret", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS384, testSecret, validClaims(), nil)
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, wrong alg HS512 with the right secret", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS512, testSecret, validClaims(), nil)
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, RS256 with an attacker's key", token: func(tb testing.TB, f *fixture) string {
			return sign(tb, jwt.SigningMethodRS256, f.rsaKey, validClaims(), nil)
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, ES256 with an attacker's key", token: func(tb testing.TB, f *fixture) string {
			return sign(tb, jwt.SigningMethodES256, f.ecKey, validClaims(), nil)
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, RS256 with the attacker's key in a jwk header", token: func(tb testing.TB, f *fixture) string {
			pub := f.rsaKey.PublicKey
			jwk := map[string]any{
				"kty": "RSA",
				"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
				"e":   "AQAB",
			}
			return sign(tb, jwt.SigningMethodRS256, f.rsaKey, validClaims(), map[string]any{"jwk": jwk})
		}, want: jwt.ErrTokenUnverifiable},
		{name: "nok, HS256 with the attacker's secret in a jwk header", token: func(tb testing.TB, _ *fixture) string {
			jwk := map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attackerSecret)}
			return sign(tb, jwt.SigningMethodHS256, attackerSecret, validClaims(), map[string]any{"jwk": jwk})
		}, want: jwt.ErrTokenUnverifiable},
		{name: "nok, attacker's key with jku, x5u and kid headers", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS256, attackerSecret, validClaims(), map[string]any{
				"jku": "https://attacker.example/jwks.json",
				"x5u": "https://attacker.example/cert.pem",
				"kid": "attacker",
			})
		}, want: jwt.ErrTokenUnverifiable},
		{name: "nok, other secret", token: func(tb testing.TB, _ *fixture) string {
			return sign(tb, jwt.SigningMethodHS256, attackerSecret, validClaims(), nil)
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, stripped signature", token: func(_ testing.TB, f *fixture) string {
			return strings.TrimSuffix(f.token, signatureOf(f.token))
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, signature only, no dot", token: func(_ testing.TB, f *fixture) string {
			return strings.TrimSuffix(f.token, "."+signatureOf(f.token))
		}, want: jwt.ErrTokenMalformed},
		{name: "nok, tampered payload keeps signature", token: func(tb testing.TB, f *fixture) string {
			parts := strings.Split(f.token, ".")
			raw, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				tb.Fatal(err)
			}
			var c map[string]any
			if err := json.Unmarshal(raw, &c); err != nil {
				tb.Fatal(err)
			}
			c["username"] = "admin"
			return parts[0] + "." + segment(tb, c) + "." + parts[2]
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, signature with altered trailing bits", token: func(_ testing.TB, f *fixture) string {
			// The last base64 character of a 32-byte signature carries two
			// unused bits; lenient decoding would accept this spelling.
			sig := signatureOf(f.token)
			last := strings.IndexByte(base64URLAlphabet, sig[len(sig)-1])
			altered := sig[:len(sig)-1] + string(base64URLAlphabet[last^1])
			return strings.TrimSuffix(f.token, sig) + altered
		}, want: jwt.ErrTokenMalformed},
		{name: "nok, tampered payload with another valid token's signature", token: func(tb testing.TB, f *fixture) string {
			other := sign(tb, jwt.SigningMethodHS256, testSecret, validClaims(), nil)
			tampered := claimsWith(func(c map[string]any) { c["sub"] = "someone-else" })
			return strings.Split(f.token, ".")[0] + "." + segment(tb, tampered) + "." + signatureOf(other)
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, HS256 with an empty key", token: func(tb testing.TB, _ *fixture) string {
			return hmacSHA256(tb, nil, map[string]any{"alg": "HS256", "typ": "JWT"}, validClaims())
		}, want: jwt.ErrTokenSignatureInvalid},
		{name: "nok, kid /dev/null signed with an empty key", token: func(tb testing.TB, _ *fixture) string {
			return hmacSHA256(tb, nil, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "../../../../dev/null"}, validClaims())
		}, want: jwt.ErrTokenUnverifiable},
		{name: "nok, kid of 4 KB with the right secret", token: hs256Headers(map[string]any{"kid": strings.Repeat("k", 4<<10)}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, kid with NUL and newline with the right secret", token: hs256Headers(map[string]any{"kid": "a\x00b\nc"}), want: jwt.ErrTokenUnverifiable},
		{name: "nok, padded base64 header", token: func(_ testing.TB, f *fixture) string {
			parts := strings.Split(f.token, ".")
			return parts[0] + "=." + parts[1] + "." + parts[2]
		}, want: jwt.ErrTokenMalformed},
		{name: "nok, a refresh token", token: func(tb testing.TB, _ *fixture) string {
			tok, _, err := tokens.NewRefreshToken()
			if err != nil {
				tb.Fatal(err)
			}
			return tok
		}, want: jwt.ErrTokenMalformed},
		{name: "nok, aud list without us", token: hs256(claimsWith(func(c map[string]any) { c["aud"] = []string{"a", "b"} })), want: jwt.ErrTokenInvalidAudience},
		{name: "nok, exp not a number", token: hs256(claimsWith(func(c map[string]any) { c["exp"] = "tomorrow" })), want: jwt.ErrTokenMalformed},
		{name: "nok, missing exp", token: hs256(claimsWith(func(c map[string]any) { delete(c, "exp") })), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "nok, exp as quoted string", token: hs256(claimsWith(func(c map[string]any) { c["exp"] = "1900000000" })), want: jwt.ErrTokenMalformed},
		{name: "nok, exp as upper-case quoted string", token: hs256(claimsWith(func(c map[string]any) {
			delete(c, "exp")
			c["EXP"] = "1900000000"
		})), want: jwt.ErrTokenMalformed},
		{name: "nok, exp null", token: hs256(claimsWith(func(c map[string]any) { c["exp"] = nil })), want: jwt.ErrTokenMalformed},
		{name: "nok, iat as string", token: hs256(claimsWith(func(c map[string]any) { c["iat"] = "1772366400" })), want: jwt.ErrTokenMalformed},
		{name: "nok, nbf as string", token: hs256(claimsWith(func(c map[string]any) { c["nbf"] = "1772366400" })), want: jwt.ErrTokenMalformed},
		{name: "nok, missing iat", token: hs256(claimsWith(func(c map[string]any) { delete(c, "iat") })), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "nok, nbf in the future", token: hs256(claimsWith(func(c map[string]any) { c["nbf"] = testNow.Add(time.Minute).Unix() })), want: jwt.ErrTokenNotValidYet},
		{name: "nok, wrong iss", token: hs256(claimsWith(func(c map[string]any) { c["iss"] = "evil" })), want: jwt.ErrTokenInvalidIssuer},
		{name: "nok, missing iss", token: hs256(claimsWith(func(c map[string]any) { delete(c, "iss") })), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "nok, wrong aud", token: hs256(claimsWith(func(c map[string]any) { c["aud"] = "other-service" })), want: jwt.ErrTokenInvalidAudience},
		{name: "nok, missing aud", token: hs256(claimsWith(func(c map[string]any) { delete(c, "aud") })), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "nok, missing sid", token: hs256(claimsWith(func(c map[string]any) { delete(c, "sid") })), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "nok, empty sid", token: hs256(claimsWith(func(c map[string]any) { c["sid"] = "" })), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "nok, missing sub", token: hs256(claimsWith(func(c map[string]any) { delete(c, "sub") })), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "nok, sub not a string", token: hs256(claimsWith(func(c map[string]any) { c["sub"] = 42 })), want: jwt.ErrTokenMalformed},
		{name: "nok, oversized but correctly signed", token: hs256(claimsWith(func(c map[string]any) {
			c["username"] = strings.Repeat("a", tokens.MaxTokenLength)
		})), want: jwt.ErrTokenMalformed},
		{name: "nok, 60 KB of dots", token: func(testing.TB, *fixture) string { return strings.Repeat(".", 60<<10) }, want: jwt.ErrTokenMalformed},
		{name: "nok, empty string", token: func(testing.TB, *fixture) string { return "" }, want: jwt.ErrTokenMalformed},
		{name: "nok, garbage", token: func(testing.TB, *fixture) string { return "not a token at all" }, want: jwt.ErrTokenMalformed},
		{name: "nok, four segments", token: func(_ testing.TB, f *fixture) string { return f.token + ".x" }, want: jwt.ErrTokenMalformed},
		{name: "nok, payload not JSON", token: func(_ testing.TB, f *fixture) string {
			parts := strings.Split(f.token, ".")
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2]")) + "." + parts[2]
		}, want: jwt.ErrTokenMalformed},

		// JSON that encoding/json reads leniently, each signed with the real
		// key so only the pre-check can refuse it. golang-jwt decodes the
		// payload into a struct case-insensitively and keeps the last of
		// duplicate names, so these would choose the identity.
		{name: "nok, crit header naming an unknown extension", token: rawHS256(
			`{"alg":"HS256","typ":"JWT","crit":["x-unknown"],"x-unknown":true}`, payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "nok, empty crit header", token: rawHS256(`{"alg":"HS256","typ":"JWT","crit":[]}`, payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "nok, duplicate sub", token: rawHS256(hs256Header, payloadJSON(`"sub":"someone-else"`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, SUB next to sub", token: rawHS256(hs256Header, payloadJSON(`"SUB":"someone-else"`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, sub spelled with a long s next to sub", token: rawHS256(hs256Header, payloadJSON(`"\u017fub":"someone-else"`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, duplicate sub written with an escape", token: rawHS256(hs256Header, payloadJSON(`"s\u0075b":"someone-else"`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, duplicate sid", token: rawHS256(hs256Header, payloadJSON(`"sid":"other-session"`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, duplicate name in a nested object", token: rawHS256(hs256Header, payloadJSON(`"ext":{"a":1,"a":2}`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, names differing only in case in a nested object", token: rawHS256(hs256Header, payloadJSON(`"ext":{"a":1,"A":2}`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, duplicate name in an object inside an array", token: rawHS256(hs256Header, payloadJSON(`"ext":[{"a":1,"a":2}]`)),
			want: jwt.ErrTokenMalformed},
		{name: "nok, duplicate member in the header", token: rawHS256(`{"alg":"HS256","typ":"JWT","typ":"JWT"}`, payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "nok, duplicate alg", token: rawHS256(`{"alg":"none","alg":"HS256","typ":"JWT"}`, payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "nok, case-folded ALG next to alg", token: rawHS256(`{"alg":"HS256","ALG":"none","typ":"JWT"}`, payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "nok, trailing garbage after the payload", token: rawHS256(hs256Header, payloadJSON("")+`x`),
			want: jwt.ErrTokenMalformed},
		{name: "nok, second object after the payload", token: rawHS256(hs256Header, payloadJSON("")+`{"sub":"someone-else"}`),
			want: jwt.ErrTokenMalformed},
		{name: "nok, trailing whitespace after the payload", token: rawHS256(hs256Header, payloadJSON("")+" \n"),
			want: jwt.ErrTokenMalformed},
		{name: "nok, trailing garbage after the header", token: rawHS256(hs256Header+`x`, payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "nok, trailing whitespace after the header", token: rawHS256(hs256Header+" ", payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "nok, header not an object", token: rawHS256(`["alg","HS256"]`, payloadJSON("")),
			want: jwt.ErrTokenMalformed},
		{name: "ok, one name at two nesting levels", token: rawHS256(hs256Header, payloadJSON(`"ext":{"sub":"x","inner":{"sub":1}}`))},
		{name: "ok, whitespace inside the objects", token: rawHS256(`{ "alg" : "HS256" ,
 "typ":"JWT" }`, payloadJSON(`"ext" : [ 1 , { } ]`))},
	}
	// alg "none" in several spellings, with and without a signature. Only
	// the lower-case spelling is known to golang-jwt; the allow-list refuses it.
	// An empty alg names no method at all.
	for _, alg := range []string{"none", "None", "NONE", "nOnE", ""} {
		spelled := alg
		if alg == "" {
			spelled = "empty"
		}
		want := jwt.ErrTokenUnverifiable
		if alg == "none" {
			want = jwt.ErrTokenSignatureInvalid
		}
		cases = append(cases,
			verifyCase{name: "nok, alg " + spelled + " without signature", token: func(tb testing.TB, _ *fixture) string {
				return assemble(tb, map[string]any{"alg": alg, "typ": "JWT"}, validClaims(), "")
			}, want: want},
			verifyCase{name: "nok, alg " + spelled + " with a valid HS256 signature", token: func(tb testing.TB, f *fixture) string {
				return assemble(tb, map[string]any{"alg": alg, "typ": "JWT"}, validClaims(), signatureOf(f.token))
			}, want: want},
		)
	}
	return cases
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestVerify(t *testing.T) {
	f := newFixture(t)
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token(t, f)
			claims, err := managerAt(t, tc.at).Verify(token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if claims == nil || claims.Subject != testUserID || claims.SessionID != testSession {
					t.Fatalf("Verify claims = %+v", claims)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token; claims %+v", claims)
			}
			if claims != nil {
				t.Errorf("Verify returned claims with an error: %+v", claims)
			}
			if !errors.Is(err, tokens.ErrInvalidToken) {
				t.Errorf("error %q does not wrap tokens.ErrInvalidToken", err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q does not wrap %q", err, tc.want)
			}
			if got, want := tokens.Expired(err), errors.Is(tc.want, jwt.ErrTokenExpired); got != want {
				t.Errorf("Expired(%q) = %v, want %v", err, got, want)
			}
		})
	}
}

// TestQuotedExpAcceptedByGolangJWT documents why Verify pre-checks the
// payload: golang-jwt on its own takes a quoted exp for a number.
func TestQuotedExpAcceptedByGolangJWT(t *testing.T) {
	token := sign(t, jwt.SigningMethodHS256, testSecret, claimsWith(func(c map[string]any) {
		c["exp"] = "1900000000"
	}), nil)
	var claims tokens.Claims
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return testNow })).
		ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return testSecret, nil })
	if err != nil {
		t.Skipf("golang-jwt now refuses a quoted exp (%v); the pre-check is belt and braces", err)
	}
	if _, err := managerAt(t, 0).Verify(token); !errors.Is(err, jwt.ErrTokenMalformed) {
		t.Fatalf("Verify error = %v, want jwt.ErrTokenMalformed", err)
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	got, err := f.manager.Verify(f.token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Issue's claims carry the issuer clock's location, Verify's the local
	// one: compare the instants, then the rest.
	if !got.ExpiresAt.Equal(f.claims.ExpiresAt.Time) || !got.IssuedAt.Equal(f.claims.IssuedAt.Time) {
		t.Errorf("verified exp/iat %v/%v, issued %v/%v", got.ExpiresAt, got.IssuedAt, f.claims.ExpiresAt, f.claims.IssuedAt)
	}
	gotRest, issuedRest := *got, f.claims
	gotRest.ExpiresAt, gotRest.IssuedAt, issuedRest.ExpiresAt, issuedRest.IssuedAt = nil, nil, nil, nil
	if !reflect.DeepEqual(gotRest, issuedRest) {
		t.Errorf("verified claims differ from issued claims:\n got %+v\nwant %+v", gotRest, issuedRest)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"iss", got.Issuer, testIssuer},
		{"sub", got.Subject, testUserID},
		{"aud", []string(got.Audience), []string{testAudience}},
		{"exp", got.ExpiresAt.Unix(), testNow.Add(testTTL).Unix()},
		{"iat", got.IssuedAt.Unix(), testNow.Unix()},
		{"sid", got.SessionID, testSession},
		{"username", got.Username, testUsername},
		{"nbf", got.NotBefore, (*jwt.NumericDate)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if jti, err := base64.RawURLEncoding.Strict().DecodeString(got.ID); err != nil || len(jti) != 16 {
		t.Errorf("jti %q is not 16 base64url bytes (err %v)", got.ID, err)
	}

	// The payload has exactly the documented claims, times as JSON numbers.
	parts, err := tokens.Decode(f.token)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	keys := slices.Sorted(maps.Keys(parts.Payload))
	if want := []string{"aud", "exp", "iat", "iss", "jti", "sid", "sub", "username"}; !slices.Equal(keys, want) {
		t.Errorf("payload keys = %v, want %v", keys, want)
	}
	for _, k := range []string{"exp", "iat"} {
		if _, ok := parts.Payload[k].(json.Number); !ok {
			t.Errorf("payload %s = %#v, want a JSON number", k, parts.Payload[k])
		}
	}
	if parts.Header["alg"] != "HS256" || parts.Header["typ"] != "JWT" {
		t.Errorf("header = %v", parts.Header)
	}
}

func TestIssueUniqueJTI(t *testing.T) {
	f := newFixture(t)
	seen := map[string]bool{}
	for range 100 {
		_, c, err := f.manager.Issue(testUserID, testUsername, testSession)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("jti %q issued twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestIssueRequiresIDs(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, user, session string }{
		{"nok, empty user id", "", testSession},
		{"nok, empty session id", testUserID, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tok, _, err := f.manager.Issue(tc.user, testUsername, tc.session); err == nil {
				t.Fatalf("Issue = %q, want an error", tok)
			}
		})
	}
}

func TestNewManager(t *testing.T) {
	valid := testConfig(testNow)
	with := func(edit func(*tokens.Config)) tokens.Config {
		c := valid
		edit(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     tokens.Config
		wantErr bool
	}{
		{"ok, valid", valid, false},
		{"ok, 16-byte secret", with(func(c *tokens.Config) { c.Secret = testSecret[:16] }), false},
		{"ok, no clock", with(func(c *tokens.Config) { c.Now = nil }), false},
		{"ok, zero leeway", with(func(c *tokens.Config) { c.Leeway = 0 }), false},
		{"ok, leeway at the limit", with(func(c *tokens.Config) { c.Leeway = tokens.MaxLeeway }), false},
		{"nok, empty secret", with(func(c *tokens.Config) { c.Secret = nil }), true},
		{"nok, short secret", with(func(c *tokens.Config) { c.Secret = testSecret[:15] }), true},
		{"nok, empty issuer", with(func(c *tokens.Config) { c.Issuer = "" }), true},
		{"nok, empty audience", with(func(c *tokens.Config) { c.Audience = "" }), true},
		{"nok, zero TTL", with(func(c *tokens.Config) { c.TTL = 0 }), true},
		{"nok, negative TTL", with(func(c *tokens.Config) { c.TTL = -time.Minute }), true},
		{"nok, leeway over 5s", with(func(c *tokens.Config) { c.Leeway = tokens.MaxLeeway + time.Millisecond }), true},
		{"nok, negative leeway", with(func(c *tokens.Config) { c.Leeway = -time.Second }), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tokens.NewManager(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewManager error = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && m.TTL() != tc.cfg.TTL {
				t.Errorf("TTL() = %v, want %v", m.TTL(), tc.cfg.TTL)
			}
		})
	}
}

func TestNewManagerCopiesSecret(t *testing.T) {
	secret := slices.Clone(testSecret)
	cfg := testConfig(testNow)
	cfg.Secret = secret
	m, err := tokens.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := m.Issue(testUserID, testUsername, testSession)
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	if _, err := m.Verify(tok); err != nil {
		t.Fatalf("Verify after the caller cleared its slice: %v", err)
	}
}

func TestDecode(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{"ok, valid token", f.token, false},
		{"ok, unverified alg none token", assemble(t, map[string]any{"alg": "none"}, validClaims(), ""), false},
		{"nok, empty", "", true},
		{"nok, two segments", "e30.e30", true},
		{"nok, header not base64url", "e30=.e30.", true},
		{"nok, payload not an object", "e30." + base64.RawURLEncoding.EncodeToString([]byte("null")) + ".", true},
		{"nok, signature not base64url", "e30.e30.!!", true},
		{"nok, too long", strings.Repeat("a", tokens.MaxTokenLength+1), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tokens.Decode(tc.token)
			if tc.wantErr {
				if !errors.Is(err, tokens.ErrMalformedToken) {
					t.Fatalf("Decode error = %v, want tokens.ErrMalformedToken", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := p.HeaderSegment + "." + p.PayloadSegment + "." + p.SignatureSegment; got != tc.token {
				t.Errorf("segments rejoin to %q, want %q", got, tc.token)
			}
			if p.Payload["sid"] != testSession || !strings.Contains(p.PayloadJSON, `"sid": "`+testSession+`"`) {
				t.Errorf("payload = %v / %s", p.Payload, p.PayloadJSON)
			}
		})
	}
}

// FuzzVerify checks that Verify never panics, always wraps ErrInvalidToken
// and never returns claims with an error. The seeds (a valid token and every
// attack token of TestVerify) run as part of go test.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	for _, tc := range verifyCases() {
		f.Add(tc.token(f, fx))
	}
	m := managerAt(f, 0)
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := m.Verify(token)
		switch {
		case err == nil && claims == nil:
			t.Fatal("Verify returned neither claims nor an error")
		case err != nil && claims != nil:
			t.Fatalf("Verify returned claims with error %v", err)
		case err != nil && !errors.Is(err, tokens.ErrInvalidToken):
			t.Fatalf("error %v does not wrap ErrInvalidToken", err)
		case err == nil && (claims.Subject == "" || claims.SessionID == ""):
			t.Fatalf("accepted claims without sub or sid: %+v", claims)
		}
		_, _ = tokens.Decode(token)
	})
}
