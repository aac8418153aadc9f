package handlers

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxNextLen bounds the redirect target we are willing to carry around.
const maxNextLen = 2048

// maxNextDecodes bounds the rounds of percent-decoding SafeNext checks.
const maxNextDecodes = 4

// SafeNext returns raw when it is a path on this site, or "" when it could
// send the browser elsewhere. It is the only gate for the `next` parameter:
// a local path starts with one "/", and has no scheme, no host, no "//" or
// "/\" prefix (browsers read both as "another host"), no backslash and no
// control characters (browsers drop tabs and newlines, so "/\t/evil" is
// "//evil"), and no "." or ".." path segment: the browser resolves those,
// so the path it asks for is not the one checked here ("/.//evil.com" stays
// on this site but becomes the path "//evil.com", a host to anything that
// reads the path as a link again). Percent-encoded forms are checked after
// decoding too.
func SafeNext(raw string) string {
	if raw == "" || len(raw) > maxNextLen || !utf8.ValidString(raw) {
		return ""
	}
	if !localPath(raw) {
		return ""
	}
	// "/%2F%2Fevil" and friends: a server or proxy that decodes once
	// would turn them into a host. Decode as often as that keeps changing
	// the value ("/%252F%252Fevil" needs two rounds); every round must
	// still be a local path. A value that stops decoding cleanly (a lone
	// "%" after decoding "%25") is checked as far as it went.
	dec := raw
	for round := 0; ; round++ {
		d, err := url.PathUnescape(dec)
		if err != nil {
			if round == 0 {
				return "" // raw itself is not valid percent-encoding
			}
			break
		}
		if d == dec {
			break
		}
		if round == maxNextDecodes || !localPath(d) {
			return "" // still changing after this many rounds: not a link anyone wrote
		}
		dec = d
	}
	if hasDotSegment(raw) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return raw
}

// hasDotSegment reports whether the path of raw (up to any "?" or "#") has
// a "." or ".." segment, as written or after any round of percent-decoding
// (browsers read "%2e" as "." in a path). Only the path: a query or
// fragment is never resolved. The path is cut before decoding, so an
// encoded "?" ("/a%3F/%2e%2e/") cannot hide what follows it.
func hasDotSegment(raw string) bool {
	p, _, _ := strings.Cut(raw, "?")
	p, _, _ = strings.Cut(p, "#")
	for round := 0; round <= maxNextDecodes; round++ {
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				return true
			}
		}
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			return false
		}
		p = d
	}
	return false
}

func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r <= 0x9f) {
			return false
		}
	}
	return true
}

// nextOr returns the safe next path or def.
func nextOr(raw, def string) string {
	if n := SafeNext(raw); n != "" {
		return n
	}
	return def
}
