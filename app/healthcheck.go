package app

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// HealthCheck asks the server on ADDR (as the server loads it) for /healthz and returns the exit code
// for `tokenflow healthcheck`: 0 when it answers 200.
func HealthCheck(getenv func(string) string) int {
	// The server's own settings, so its default address is written once.
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 2
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck: ADDR:", err)
		return 2
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	res, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", res.StatusCode)
		return 1
	}
	return 0
}
