// Command tokenflow serves browser login with JSON Web Tokens.
//
//	go run .              # http://localhost:8080, SQLite under ./data/
//	tokenflow serve       # the same: the auth server
//	tokenflow gateway     # the API gateway (ADDR, AUTH_URL, NOTES_URL)
//	tokenflow notes       # the notes service behind it (ADDR, AUTH_URL, DATA_DIR)
//	tokenflow stack       # all three on loopback; open the gateway's URL
//	tokenflow healthcheck # exit 0 when GET /healthz on ADDR answers 200
//	tokenflow keys list | rotate | revoke KID
//	tokenflow backup FILE # a consistent copy of the SQLite database, while it serves
//
// Settings come from the environment; see README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"tokenflow/app"
)

type command func(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, ready func(string)) error

var commands = map[string]command{
	"serve":   app.Run,
	"gateway": app.RunGateway,
	"notes":   app.RunNotes,
	"stack":   app.RunStack,
}

func main() {
	name := "serve"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	if name == "healthcheck" {
		// For container health checks, where there is no curl.
		os.Exit(app.HealthCheck(os.Getenv))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if name == "backup" {
		if err := app.Backup(ctx, os.Getenv, os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "tokenflow:", err)
			os.Exit(1)
		}
		return
	}
	if name == "keys" {
		// Works on the store a running server uses; see README, "Signing keys".
		if err := app.Keys(ctx, os.Args[2:], os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "tokenflow keys:", err)
			os.Exit(1)
		}
		return
	}
	run, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "tokenflow: unknown command %q (serve, gateway, notes, stack, keys, backup, healthcheck)\n", name)
		os.Exit(2)
	}
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tokenflow:", err)
		os.Exit(1)
	}
}
