package main

import (
	"net/http"
	"testing"
	"time"
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

func TestSoakFlagsForSeveralInstances(t *testing.T) {
	for name, args := range map[string][]string{
		"nok, two instances on SQLite": {"-bin", "x", "-instances", "2", "-haproxy", "/usr/sbin/haproxy"},
		"nok, three instances":         {"-bin", "x", "-instances", "3", "-database-url", "postgres://h/db"},
		"nok, no instance":             {"-bin", "x", "-instances", "0"},
		"nok, sampling that floods":    {"-bin", "x", "-sample-every", "1ms"},
	} {
		if _, err := parseSoakFlags(args); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	opt, err := parseSoakFlags([]string{"-bin", "x", "-instances", "2", "-database-url", "postgres://h/db", "-haproxy", "/opt/haproxy"})
	if err != nil || opt.instances != 2 || opt.databaseURL != "postgres://h/db" || opt.haproxy != "/opt/haproxy" || opt.haproxyConfig != "deploy/haproxy/haproxy.cfg" {
		t.Errorf("ok, PostgreSQL x2: %+v %v", opt, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := parseSoakFlags([]string{"-bin", "x", "-instances", "2", "-database-url", "postgres://h/db"}); err == nil {
		t.Error("nok, no haproxy in PATH and none given: accepted")
	}
	if opt, err := parseSoakFlags([]string{"-bin", "x", "-database-url", "postgres://h/db"}); err != nil || opt.haproxy != "" {
		t.Errorf("ok, one instance on PostgreSQL needs no haproxy: %+v %v", opt, err)
	}
}

// The verdict leaves each process generation's warm-up out, so a restart
// (RSS back to its start, then growing) is not growth; steady growth is.
func TestFlatVerdictSkipsWarmUpAndCatchesGrowth(t *testing.T) {
	rss := func(x sample) float64 { return float64(x.rssKiB) }
	var restarted, growing []sample
	for gen := range 2 {
		for s := range 30 {
			at := time.Duration(gen*30+s) * time.Second
			v := int64(100)
			if s < 5 {
				v = int64(20 + 16*s) // warming up
			}
			restarted = append(restarted, sample{at: at, pid: gen + 1, rssKiB: v})
			growing = append(growing, sample{at: at, pid: gen + 1, rssKiB: int64(100 + 2*(gen*30+s))})
		}
	}
	if _, _, flat, enough := flatVerdict(restarted, 5*time.Second, rss); !enough || !flat {
		t.Errorf("restart with warm-up: flat=%v enough=%v, want flat", flat, enough)
	}
	if first, last, flat, _ := flatVerdict(growing, 5*time.Second, rss); flat {
		t.Errorf("growing %.0f -> %.0f: called flat", first, last)
	}
	if _, _, _, enough := flatVerdict(restarted[:6], 5*time.Second, rss); enough {
		t.Error("six samples, all in warm-up: a verdict was given")
	}
}
