package main

import (
	"net/http"
	"testing"
)

func TestSoakFlagsRefuseWhatProvesNothingOrTooMuch(t *testing.T) {
	for name, args := range map[string][]string{
		"nok, no binary":           {"-duration", "1m"},
		"nok, restarts too often":  {"-bin", "x", "-restart-every", "1s"},
		"nok, over an hour":        {"-bin", "x", "-duration", "2h"},
		"nok, too many clients":    {"-bin", "x", "-clients", "1000"},
		"nok, a pace that floods":  {"-bin", "x", "-pace", "1ms"},
		"nok, a negative duration": {"-bin", "x", "-duration", "-1m"},
	} {
		if _, err := parseSoakFlags(args); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parseSoakFlags([]string{"-bin", "/tmp/tokenflow"}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// The ledger keeps the newest token a response set, and the old one when
// a response set none (a 429 or a cleared cookie must not erase it).
func TestTokensFromKeepsTheNewestToken(t *testing.T) {
	res := &http.Response{Header: http.Header{"Set-Cookie": {"tf_refresh_token=new; Path=/auth", "tf_access_token=jwt; Path=/"}}}
	if r, a := tokensFrom(res, "old", "oldjwt"); r != "new" || a != "jwt" {
		t.Errorf("got %q %q", r, a)
	}
	cleared := &http.Response{Header: http.Header{"Set-Cookie": {"tf_refresh_token=; Path=/auth; Max-Age=0"}}}
	if r, a := tokensFrom(cleared, "old", "oldjwt"); r != "old" || a != "oldjwt" {
		t.Errorf("a cleared cookie replaced the ledger's token: %q %q", r, a)
	}
}
