package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestSplitList(t *testing.T) {
	if got := SplitList(" a, ,b,"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("SplitList = %q", got)
	}
	if got := SplitList(""); got != nil {
		t.Errorf("SplitList(\"\") = %q", got)
	}
}

func TestParsePairs(t *testing.T) {
	got, err := parsePairs("physnet1:br-ex, physnet2 : br-ex2", ":")
	if err != nil || len(got) != 2 || got["physnet1"] != "br-ex" || got["physnet2"] != "br-ex2" {
		t.Errorf("parsePairs = %v, %v", got, err)
	}
	for _, bad := range []string{"physnet1", "physnet1:", ":br", "a:b,a:c"} {
		if _, err := parsePairs(bad, ":"); err == nil {
			t.Errorf("parsePairs(%q) accepted", bad)
		}
	}
}

// TestAgentFlagErrors: bad flags are refused with a clear error before the
// agent connects to anything.
func TestAgentFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tunnel-ip", "nope"}, "--tunnel-ip"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--encaps", "gre"}, "unknown encapsulation"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bridge-mappings", "physnet1"}, "--bridge-mappings"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--external-nexthop-mac", "physnet1=zz"}, "--external-nexthop-mac"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--fip-mode", "central"}, "floating-IP mode"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--fip-mode", "edge"}, "tunnel endpoint"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--fip-mode", "edge", "--edge-endpoint", "x"}, "--edge-endpoint"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--fip-mode", "edge", "--edge-endpoint", "192.0.2.100", "--edge-encaps", "gre"}, "--edge-encaps"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bgp-peer", "198.51.100.1,as=65000"}, "need --bgp-as"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bgp-as", "65010", "--bgp-peer", "198.51.100.1"}, "as=AS is required"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bgp-as", "99999999999"}, "--bgp-as"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bgp-as", "65010"}, "external address"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bridge-mappings", "physnet1:br-ex", "--external-ip", "physnet1=zz"}, "--external-ip"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bridge-mappings", "physnet1:br-ex", "--external-ip", "physnet1=198.51.100.21",
			"--bgp-as", "65010", "--bgp-peer", "198.51.100.1,as=0"}, "as=AS is required"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bridge-mappings", "physnet1:br-ex", "--external-ip", "physnet1=198.51.100.21",
			"--bgp-as", "65010", "--bgp-peer", "198.51.100.1,as=65000,hold=1s"}, "hold time"},
		{[]string{"--tunnel-ip", "192.0.2.1", "--bridge-mappings", "physnet1:br-ex", "--external-ip", "physnet1=198.51.100.21",
			"--bgp-as", "65010", "--bgp-peer", "198.51.100.1,as=65000", "--bgp-graceful-restart", "5000s"}, "graceful restart"},
		{[]string{}, "tunnel-ip"},
	} {
		cmd := Agent(context.Background(), nil)
		cmd.SetArgs(tc.args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
