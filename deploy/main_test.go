package deploy_test

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"tokenflow/app"
)

// When the test binary runs with TOKENFLOW_TEST_CHILD=1 it is an auth
// server, exactly as main runs it: the load-balancer test starts two and
// kills them with SIGKILL, which an in-process server cannot take.
func TestMain(m *testing.M) {
	if os.Getenv("TOKENFLOW_TEST_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := app.Run(ctx, os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
			os.Stderr.WriteString("tokenflow: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
