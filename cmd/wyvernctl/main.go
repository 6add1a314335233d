// Command wyvernctl is Wyvern's operator CLI. It talks to a wyvern server's
// Neutron API; see internal/ctl for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wyvern-sdn/wyvern/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
