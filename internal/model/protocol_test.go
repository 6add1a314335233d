package model

import (
	"strconv"
	"testing"
)

func TestProtocolNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint8
		ok   bool
	}{
		{"", 0, true}, {"any", 0, true}, {"ANY", 0, true}, {"hopopt", 0, true}, {"0", 0, true},
		{"icmp", 1, true}, {"tcp", 6, true}, {"udp", 17, true}, {"TCP", 6, true},
		{"vrrp", 112, true}, {"ospf", 89, true}, {"dccp", 33, true}, {"sctp", 132, true},
		{"udplite", 136, true}, {"gre", 47, true}, {"esp", 50, true}, {"ah", 51, true},
		{"icmpv6", 58, true}, {"ipv6-icmp", 58, true}, {"pgm", 113, true}, {"rsvp", 46, true},
		{"112", 112, true}, {"255", 255, true},
		{"256", 0, false}, {"-1", 0, false}, {"vrrpx", 0, false}, {"1.5", 0, false},
	} {
		got, ok := ProtocolNumber(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ProtocolNumber(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// Every name and number a rule may carry has a number: nothing the API
// accepts can be skipped by the compiler for its protocol.
func TestProtocolNamesAllConvert(t *testing.T) {
	names := ProtocolNames()
	if len(names) < 24 {
		t.Fatalf("%d protocol names, want Neutron's 24", len(names))
	}
	for i := 0; i <= 255; i++ {
		names = append(names, strconv.Itoa(i))
	}
	for _, n := range names {
		if _, ok := ProtocolNumber(n); !ok {
			t.Errorf("ProtocolNumber(%q) not ok", n)
		}
	}
}
