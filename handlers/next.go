package handlers

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxNextLen bounds the redirect target we are willing to carry around.
const maxNextLen = 2048

// SafeNext returns raw when it is a path on this site, or "" when it could
// send the browser elsewhere. It is the only gate for the `next` parameter:
// a local path starts with one "/", and has no scheme, no host, no "//" or
// "/\" prefix (browsers read both as "another host"), no backslash and no
// control characters (browsers drop tabs and newlines, so "/\t/evil" is
// "//evil"). Percent-encoded forms are checked after decoding too.
func SafeNext(raw string) string {
	if raw == "" || len(raw) > maxNextLen || !utf8.ValidString(raw) {
		return ""
	}
	if !localPath(raw) {
		return ""
	}
	// "/%2F%2Fevil" and friends: a server or proxy that decodes once
	// would turn them into a host.
	if dec, err := url.PathUnescape(raw); err != nil || !localPath(dec) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return raw
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
