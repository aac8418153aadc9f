package handlers

import (
	"encoding/base64"
	"strings"
	"testing"
	"unsafe"
)

// What the inspector keeps (and the dashboard's cache holds, up to 256
// tokens, past their expiry) shares no memory with the token: a kept
// substring of it would keep the whole token, signature included, alive
// for anyone who can read the process's memory.
func TestInspectionHoldsNoPartOfTheToken(t *testing.T) {
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, sig := range []string{seg(strings.Repeat("\x9f", 64)), seg("ab")} {
		raw := seg(`{"alg":"HS256","typ":"JWT"}`) + "." + seg(`{"sub":"u1","sid":"s1"}`) + "." + sig
		parts := inspectToken(raw)
		if parts.Header == "" || parts.Payload == "" || parts.SignaturePreview == "" {
			t.Fatalf("inspectToken(%q) = %+v, want its parts", raw, parts)
		}
		start := uintptr(unsafe.Pointer(unsafe.StringData(raw)))
		for name, s := range map[string]string{"header": parts.Header, "payload": parts.Payload, "signature preview": parts.SignaturePreview} {
			if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= start && p < start+uintptr(len(raw)) {
				t.Errorf("signature %d bytes: the %s is a substring of the token, which it keeps alive", len(sig), name)
			}
		}
	}
}
