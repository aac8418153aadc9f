package main

import (
	"net/url"
	"testing"
)

// "login" is a row of successful logins of -username on -url: argon2id
// plus the commit of a new session, the cost a login flood puts on the store.
func TestParseTargetsLoginRow(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8090")
	got, err := parseTargets(base, "/, login ,refresh")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d targets, want 3", len(got))
	}
	login := got[1]
	if !login.login || login.refresh || login.auth || login.url != "http://127.0.0.1:8090/auth/login" || login.name != "login" {
		t.Errorf("login row: %+v", login)
	}
	if got[0].login || got[2].login {
		t.Errorf("only the login row logs in: %+v", got)
	}
}
