package deploy_test

import (
	"context"
	"os"
	"testing"

	"tokenflow/app"
	"tokenflow/internal/testkit"
)

// A test binary that testkit.ChildCommand started is an auth server,
// exactly as main runs it: the load-balancer test starts two and kills
// them with SIGKILL, which an in-process server cannot take.
func TestMain(m *testing.M) {
	testkit.ServeIfChild(func(ctx context.Context) error { return app.Run(ctx, os.Getenv, os.Stdout, os.Stderr, nil) })
	os.Exit(m.Run())
}
