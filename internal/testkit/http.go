package testkit

import (
	"encoding/json"
	"net/http"
	"testing"
)

// JWKSKids is the kids that the server at base publishes now at
// /.well-known/jwks.json. A status other than 200, a document that does
// not decode, and a key with a private member ("d") fail the test.
func JWKSKids(t testing.TB, base string) []string {
	t.Helper()
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatalf("GET the JWKS: %v", err)
	}
	defer res.Body.Close()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&doc) != nil {
		t.Fatalf("GET the JWKS: %d", res.StatusCode)
	}
	kids := make([]string, 0, len(doc.Keys))
	for _, k := range doc.Keys {
		if k.D != "" {
			t.Fatal("the JWKS has a private key")
		}
		kids = append(kids, k.Kid)
	}
	return kids
}

// BearerStatus is GET url with token as a bearer: the status and the
// WWW-Authenticate challenge.
func BearerStatus(t testing.TB, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("WWW-Authenticate")
}
