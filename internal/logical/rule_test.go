package logical

import (
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
