package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// metricsURLFrom finds the metrics address Run printed.
func metricsURLFrom(t *testing.T, stdout string) string {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if _, u, ok := strings.Cut(line, "metrics on "); ok {
			return u
		}
	}
	t.Fatalf("no metrics line in stdout:\n%s", stdout)
	return ""
}

// startWithMetrics starts the server in process with vars and
// METRICS_ADDR on a free port; it returns the base URL and the metrics URL.
func startWithMetrics(t *testing.T, opts Options, vars map[string]string) (base, metricsURL string) {
	t.Helper()
	vars["METRICS_ADDR"] = "127.0.0.1:0"
	base, stdout, _, _ := startWith(t, opts, vars)
	return base, metricsURLFrom(t, stdout.String())
}

// Metrics are served on METRICS_ADDR only, and count what happened.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	base, metricsURL := startWithMetrics(t, Options{}, testEnv(t))
	if strings.HasPrefix(metricsURL, base) {
		t.Fatalf("metrics %s on the public listener %s", metricsURL, base)
	}
	if got := status(t, http.DefaultClient, http.MethodGet, base+"/metrics"); got != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", got)
	}

	c := newClient(t)
	register(t, c, base, "metered", "a long password")
	res, err := newClient(t).PostForm(base+"/auth/login", url.Values{"username": {"metered"}, "password": {"a wrong password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := status(t, c, http.MethodPost, base+"/auth/refresh"); got != http.StatusOK {
		t.Fatalf("refresh: %d", got)
	}
	status(t, c, http.MethodPost, base+"/auth/logout")
	status(t, http.DefaultClient, http.MethodGet, base+"/sessions/some-raw-id/revoke") // 405: routed

	for sample, want := range map[string]float64{
		`tokenflow_logins_total{outcome="failed"}`:          1,
		`tokenflow_refreshes_total{outcome="ok"}`:           1,
		`tokenflow_sessions_revoked_total{reason="logout"}`: 1,
		`tokenflow_active_sessions`:                         0, // registered, refreshed, logged out
		`tokenflow_password_hash_slots`:                     1, // at least
		`tokenflow_http_request_duration_seconds_count{code="200",method="POST",route="/auth/refresh"}`: 1,
	} {
		got := metricValue(t, metricsURL, sample)
		if sample == `tokenflow_password_hash_slots` && got >= want || got == want {
			continue
		}
		t.Errorf("%s = %v, want %v", sample, got, want)
	}
	body := scrapeText(t, metricsURL)
	if strings.Contains(body, "some-raw-id") {
		t.Error("a raw path reached a metric label")
	}
}

func scrapeText(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// With LOG_FORMAT=json every log line is a JSON object, each request line
// carries its request id, and nothing of a whole flow's secrets reaches
// the log: not the passwords (right or wrong), not the tokens or any
// credential cookie's value.
func TestJSONLogsCarryRequestIDsAndNoSecrets(t *testing.T) {
	vars := testEnv(t)
	vars["LOG_FORMAT"] = "json"
	base, _, stderr, stop := startInProcessLogs(t, vars)

	const rightPassword, wrongPassword = "canary-right-password-7f3a", "canary-wrong-password-91bc"
	var secrets []string
	keep := func(res *http.Response) {
		for _, ck := range res.Cookies() {
			// The credential cookies; the notice cookie holds a word
			// such as "logout" that any log may contain.
			if strings.Contains(ck.Name, "_token") && ck.Value != "" {
				secrets = append(secrets, ck.Value)
				// A JWT's signature alone would be a leak too.
				if parts := strings.Split(ck.Value, "."); len(parts) == 3 {
					secrets = append(secrets, parts[2])
				}
			}
		}
	}
	c := newClient(t)
	post := func(c *http.Client, path string, form url.Values) {
		res, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		keep(res)
		res.Body.Close()
	}
	post(c, "/auth/register", url.Values{"username": {"logged"}, "password": {rightPassword}, "password_confirm": {rightPassword}})
	post(c, "/auth/login", url.Values{"username": {"logged"}, "password": {rightPassword}})
	post(c, "/auth/refresh", nil)
	post(newClient(t), "/auth/login", url.Values{"username": {"logged"}, "password": {wrongPassword}})
	post(c, "/auth/logout", nil)
	if len(secrets) < 4 {
		t.Fatalf("only %d cookie values captured: the flow did not run", len(secrets))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	logs := stderr.String()
	for _, secret := range append(secrets, rightPassword, wrongPassword) {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret (%.12s…)", secret)
		}
	}
	requests := 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if entry["msg"] == "request" {
			requests++
			if id, _ := entry["request_id"].(string); id == "" {
				t.Errorf("a request line without its request id: %s", line)
			}
		}
	}
	if requests < 5 {
		t.Errorf("%d request lines, want one per request:\n%s", requests, logs)
	}
}

// Through the HTTP handlers: a refresh token replayed inside the grace
// window (two tabs, a lost response) is forgiven and counted grace, not
// ok; logins past MAX_SESSIONS_PER_USER count their evictions.
func TestMetricsCountGraceReplaysAndEvictions(t *testing.T) {
	vars := testEnv(t)
	vars["MAX_SESSIONS_PER_USER"] = "1"
	base, metricsURL := startWithMetrics(t, Options{}, vars)

	form := url.Values{"username": {"replayer"}, "password": {"a long password"}, "password_confirm": {"a long password"}}
	code, first := post(t, base+"/auth/register", form, "")
	if code != http.StatusSeeOther || first == "" {
		t.Fatalf("register: %d", code)
	}
	if code, _ := post(t, base+"/auth/refresh", nil, first); code != http.StatusOK {
		t.Fatalf("refresh: %d", code)
	}
	code, forgiven := post(t, base+"/auth/refresh", nil, first) // the same token again, at once
	if code != http.StatusOK || forgiven == "" {
		t.Fatalf("a replay inside the grace window: %d, want 200 and a new pair", code)
	}
	if code, _ := post(t, base+"/auth/login", url.Values{"username": {"replayer"}, "password": {"a long password"}}, ""); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	if code, _ := post(t, base+"/auth/refresh", nil, forgiven); code != http.StatusUnauthorized {
		t.Fatalf("the evicted session refreshed: %d, want 401", code)
	}
	for sample, want := range map[string]float64{
		`tokenflow_refreshes_total{outcome="ok"}`:            1,
		`tokenflow_refreshes_total{outcome="grace"}`:         1,
		`tokenflow_refreshes_total{outcome="revoked"}`:       1,
		`tokenflow_sessions_revoked_total{reason="evicted"}`: 1,
		`tokenflow_active_sessions`:                          1,
	} {
		if got := metricValue(t, metricsURL, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
}
