package logical

import (
	"fmt"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Every protocol Neutron's API accepts converts to its number: a VRRP
// rule is compiled as IP protocol 112, not dropped.
func TestConvertRuleProtocols(t *testing.T) {
	for _, tc := range []struct {
		proto string
		want  uint8
	}{
		{"", 0}, {"tcp", 6}, {"vrrp", 112}, {"VRRP", 112}, {"112", 112}, {"ospf", 89},
		{"dccp", 33}, {"pgm", 113}, {"ipv6-icmp", 58}, {"icmpv6", 58}, {"hopopt", 0},
	} {
		r := &model.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: tc.proto}
		vr, ok := ConvertRule(r)
		if !ok || vr.Protocol != tc.want {
			t.Errorf("ConvertRule(protocol %q) = %d, %v; want %d, true", tc.proto, vr.Protocol, ok, tc.want)
		}
	}
}

func TestConvertPort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		port  model.Port
		ok    bool
		ips   string
		pairs string
	}{
		{name: "bad MAC", port: model.Port{MACAddress: "nope"}},
		{name: "addresses", ok: true, port: model.Port{MACAddress: "fa:16:3e:00:00:01",
			FixedIPs: []model.FixedIP{{IPAddress: "10.0.0.5"}, {IPAddress: "bad"}, {IPAddress: "2001:db8::5"}}},
			ips: "[10.0.0.5 2001:db8::5]"},
		{name: "pairs", ok: true, port: model.Port{MACAddress: "fa:16:3e:00:00:01",
			AllowedAddressPairs: []model.AddressPair{{IPAddress: "10.0.0.100"}, {IPAddress: "10.0.1.0/24", MACAddress: "fa:16:3e:00:00:09"}, {IPAddress: "x"}}},
			ips: "[]", pairs: "10.0.0.100/32 ;10.0.1.0/24 fa:16:3e:00:00:09;"},
	} {
		vp, ok := ConvertPort("n", &tc.port)
		if ok != tc.ok {
			t.Errorf("%s: ok %v", tc.name, ok)
			continue
		}
		if !ok {
			continue
		}
		pairs := ""
		for _, p := range vp.AllowedAddressPairs {
			pairs += p.Prefix.String() + " " + p.MAC.String() + ";"
		}
		if got := fmt.Sprint(vp.IPs); got != tc.ips || pairs != tc.pairs || vp.NetworkID != "n" {
			t.Errorf("%s: ips %s pairs %q, want %s %q", tc.name, got, pairs, tc.ips, tc.pairs)
		}
	}
}
