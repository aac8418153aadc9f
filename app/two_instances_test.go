package app

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"tokenflow/handlers"
	"tokenflow/internal/testkit"
	"tokenflow/store/postgres/pgtest"
)

// twoInstances starts two servers, each a child process as main runs it,
// on one PostgreSQL database with one KEY_ENCRYPTION_KEY: two instances
// of one deployment behind a load balancer. Without TEST_DATABASE_URL the
// test is skipped (under CI=true it fails).
func twoInstances(t *testing.T, extra map[string]string) (a, b string) {
	t.Helper()
	databaseURL := pgtest.FreshURL(t)
	var bases [2]string
	for i := range bases {
		vars := testEnv(t)
		// Made here: on PostgreSQL with KEY_ENCRYPTION_KEY set, nothing
		// else creates the data folder the demo user's password goes to.
		if err := os.MkdirAll(vars["DATA_DIR"], 0o700); err != nil {
			t.Fatal(err)
		}
		vars["DATABASE_URL"] = databaseURL
		vars["KEY_ENCRYPTION_KEY"] = "two-instances-share-this-key-encryption-key"
		for k, v := range extra {
			vars[k] = v
		}
		bases[i] = testkit.StartChild(t, vars).URL
	}
	return bases[0], bases[1]
}

// post sends a form (nil: none) with the refresh cookie token (empty:
// none), as a browser would, and returns the status and the new refresh
// token it set (empty: none).
func post(t *testing.T, u string, form url.Values, refreshToken string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if refreshToken != "" {
		req.AddCookie(&http.Cookie{Name: handlers.RefreshCookie, Value: refreshToken})
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == handlers.RefreshCookie && c.Value != "" {
			return res.StatusCode, c.Value
		}
	}
	return res.StatusCode, ""
}

func registerOn(t *testing.T, base, user string) string {
	t.Helper()
	code, tok := post(t, base+"/auth/register", url.Values{"username": {user}, "password": {pw2}, "password_confirm": {pw2}}, "")
	if code != http.StatusSeeOther || tok == "" {
		t.Fatalf("register %s: %d", user, code)
	}
	return tok
}

func loginOn(t *testing.T, base, user string) string {
	t.Helper()
	code, tok := post(t, base+"/auth/login", url.Values{"username": {user}, "password": {pw2}}, "")
	if code != http.StatusSeeOther || tok == "" {
		t.Fatalf("login %s: %d", user, code)
	}
	return tok
}

const pw2 = "a long password for two instances"

// With no grace (REFRESH_REUSE_GRACE=0), a replay is reuse at once, so the
// theft rule is seen across instances without waiting for a window.
func TestTwoInstancesShareSessionsAndTheThrottle(t *testing.T) {
	a, b := twoInstances(t, map[string]string{"REFRESH_REUSE_GRACE": "0"})

	t.Run("log in on A, refresh on B, replay on A: reuse ends the session on both", func(t *testing.T) {
		old := registerOn(t, a, "ada")
		code, fresh := post(t, b+"/auth/refresh", nil, old)
		if code != http.StatusOK || fresh == "" {
			t.Fatalf("refresh on B: %d", code)
		}
		if code, _ := post(t, a+"/auth/refresh", nil, old); code != http.StatusUnauthorized {
			t.Fatalf("replay of the old token on A: %d, want 401 (reuse)", code)
		}
		for name, base := range map[string]string{"A": a, "B": b} {
			if code, _ := post(t, base+"/auth/refresh", nil, fresh); code != http.StatusUnauthorized {
				t.Errorf("the newest token on %s after reuse: %d, want 401 (the session is revoked)", name, code)
			}
		}
	})

	t.Run("logout on B ends the session for A", func(t *testing.T) {
		tok := loginOn(t, a, "ada")
		if code, _ := post(t, b+"/auth/logout", nil, tok); code != http.StatusSeeOther && code != http.StatusOK && code != http.StatusNoContent {
			t.Fatalf("logout on B: %d", code)
		}
		if code, _ := post(t, a+"/auth/refresh", nil, tok); code != http.StatusUnauthorized {
			t.Errorf("refresh on A after logout on B: %d, want 401", code)
		}
	})

	t.Run("a brute force spread over A and B is throttled as one", func(t *testing.T) {
		registerOn(t, a, "grace")
		// LOGIN_FAILURE_LIMIT is 5: one instance alone would let 5 through,
		// two counting apart would let 10.
		for i := range 5 {
			base := []string{a, b}[i%2]
			if code, _ := post(t, base+"/auth/login", url.Values{"username": {"grace"}, "password": {"wrong"}}, ""); code != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d, want 401", i+1, code)
			}
		}
		for name, base := range map[string]string{"A": a, "B": b} {
			if code, _ := post(t, base+"/auth/login", url.Values{"username": {"grace"}, "password": {pw2}}, ""); code != http.StatusTooManyRequests {
				t.Errorf("login on %s after 5 failures spread over both: %d, want 429", name, code)
			}
		}
	})
}

// 20 refreshes of one token at once, spread over two instances: one
// rotation, the rest forgiven inside the grace window (siblings of one
// session); none is taken for theft, none fails.
func TestTwoInstancesConcurrentRefreshesFollowTheGraceRule(t *testing.T) {
	a, b := twoInstances(t, map[string]string{"REFRESH_RATE_LIMIT": "60"})
	tok := registerOn(t, a, "ada")
	var wg sync.WaitGroup
	codes := make([]int, 20)
	tokens := make([]string, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], tokens[i] = post(t, []string{a, b}[i%2]+"/auth/refresh", nil, tok)
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, code := range codes {
		if code != http.StatusOK || tokens[i] == "" {
			t.Errorf("refresh %d: %d, want 200 (rotated or forgiven)", i, code)
		}
		seen[tokens[i]] = true
	}
	if len(seen) != len(codes) {
		t.Errorf("%d distinct tokens for %d refreshes, want one each", len(seen), len(codes))
	}
	// The session survives: one of the new tokens goes on, on either instance.
	if code, next := post(t, b+"/auth/refresh", nil, tokens[0]); code != http.StatusOK || next == "" {
		t.Errorf("going on from one of them: %d", code)
	}
}
