// Command tokenflow serves browser login with JSON Web Tokens.
//
//	go run .            # http://localhost:8080, SQLite under ./data/
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tokenflow:", err)
		os.Exit(1)
	}
}
