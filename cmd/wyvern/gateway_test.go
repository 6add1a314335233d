package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestParsePeer(t *testing.T) {
	p, err := parsePeer("198.51.100.1,as=65000,port=1790,password=s3cret,hold=9s,keepalive=3s,connect-retry=2s,passive")
	if err != nil {
		t.Fatal(err)
	}
	if p.Address.String() != "198.51.100.1" || p.AS != 65000 || p.Port != 1790 || p.Password != "s3cret" ||
		p.HoldTime != 9*time.Second || p.KeepAlive != 3*time.Second || p.ConnectRetry != 2*time.Second || !p.Passive {
		t.Fatalf("parsed %+v", p)
	}
	for _, bad := range []string{"", "198.51.100.1", "nope,as=1", "198.51.100.1,as=x", "198.51.100.1,as=1,colour=red", "198.51.100.1,as=1,hold=9"} {
		if _, err := parsePeer(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestGatewayCheck: the configuration is validated before anything
// starts, with a clear error.
func TestGatewayCheck(t *testing.T) {
	base := []string{"gateway", "--check", "--name", "gw1", "--uplink", "up0", "--uplink-ip", "198.51.100.11",
		"--upstream-ip", "198.51.100.1"}
	for _, tc := range []struct {
		args []string
		want string // "" for success
	}{
		{[]string{"--bgp-as", "65010", "--bgp-peer", "198.51.100.1,as=65000"}, ""},
		{[]string{"--bgp-as", "0"}, "AS number must be 1 to 4294967295"},
		{[]string{"--bgp-as", "4294967296"}, "AS number must be 1 to 4294967295"},
		{[]string{"--bgp-as", "65010", "--bgp-peer", "198.51.100.1,as=4294967296"}, "AS number must be 1 to 4294967295, not 4294967296"},
		{[]string{"--bgp-as", "65010", "--bgp-peer", "198.51.100.1,as=65000", "--bgp-peer", "198.51.100.1,as=65001"}, "configured twice"},
		{[]string{"--bgp-as", "65010", "--bgp-peer", "198.51.100.1"}, "as=AS is required"},
		{[]string{"--bgp-as", "65010", "--encaps", "gre"}, "unknown encapsulation"},
		{[]string{"--bgp-as", "65010", "--tunnel-ip", "192.0.2.11", "--tunnel-endpoint", "192.0.2.250",
			"--tunnel-bgp-peer", "192.0.2.240,as=65100"}, ""},
		{[]string{"--bgp-as", "65010", "--tunnel-ip", "192.0.2.11", "--tunnel-bgp-peer", "192.0.2.240,as=65100"}, "give it (--tunnel-endpoint)"},
		{[]string{"--bgp-as", "65010", "--tunnel-ip", "192.0.2.11", "--tunnel-endpoint", "192.0.2.250",
			"--tunnel-bgp-peer", "192.0.2.240,as=4294967296"}, "AS number must be 1 to 4294967295"},
		{[]string{"--bgp-as", "65010", "--tunnel-endpoint", "nope"}, "--tunnel-endpoint"},
		{[]string{"--bgp-as", "65010", "--steer-threshold-pps", "1000", "--steer-pool", "scrubbing", "--steer-hold-down", "1m"}, ""},
		{[]string{"--bgp-as", "65010", "--steer-pool", "scrubbing"}, "a steering pool needs a steering threshold"},
		{[]string{"--bgp-as", "65010", "--steer-threshold-pps", "1000"}, "needs the pool to steer hot addresses to"},
		{[]string{"--bgp-as", "65010", "--steer-threshold-pps", "1000", "--steer-pool", "Scrub"}, "pool name"},
		{[]string{"--bgp-as", "65010", "--steer-threshold-pps", "1000", "--steer-pool", "scrubbing", "--steer-hold-down", "10ms"}, "shorter than the counter interval"},
	} {
		root := &cobra.Command{Use: "wyvern", SilenceUsage: true, SilenceErrors: true}
		root.AddCommand(gatewayCmd(context.Background(), func() *slog.Logger { return slog.New(slog.DiscardHandler) }))
		root.SetArgs(append(append([]string{}, base...), tc.args...))
		var out strings.Builder
		root.SetOut(&out)
		err := root.Execute()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
