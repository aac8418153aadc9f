// Command tokenflow serves browser login with JSON Web Tokens.
//
//	go run .              # http://localhost:8080, SQLite under ./data/
//	tokenflow healthcheck # exit 0 when GET /healthz on ADDR answers 200
//	tokenflow backup FILE # a consistent copy of the SQLite database, while it serves
//
// Settings come from the environment; see README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tokenflow/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		// For container health checks, where there is no curl.
		os.Exit(app.HealthCheck(os.Getenv))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "backup" {
		if err := app.Backup(ctx, os.Getenv, os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "tokenflow:", err)
			os.Exit(1)
		}
		return
	}
	if err := app.Run(ctx, os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tokenflow:", err)
		os.Exit(1)
	}
}
