package model

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// protocols are the IP protocol names a security group rule accepts, as
// Neutron lists them (n_const.IP_PROTOCOL_MAP), with their numbers.
// "icmpv6" is the legacy name of ipv6-icmp. This is the one table: the API
// validates rules with it, the agent compiles them with it and the tracer
// reads them with it, so a rule the API stores is never silently ignored.
var protocols = map[string]uint8{
	"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2,
	"ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59,
	"ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6,
	"udp": 17, "udplite": 136, "vrrp": 112,
}

// IP protocol numbers the compiler and the API treat specially.
const (
	ProtoICMP    = 1
	ProtoTCP     = 6
	ProtoUDP     = 17
	ProtoICMPv6  = 58
	ProtoDCCP    = 33
	ProtoSCTP    = 132
	ProtoUDPLite = 136
)

// ProtocolNumber is the IP protocol number of a rule's protocol: a name of
// the table (any case) or a decimal number 0..255. "", "any" and 0
// (hopopt) mean any protocol and give 0. ok is false for anything else.
func ProtocolNumber(p string) (n uint8, ok bool) {
	if p == "" || strings.EqualFold(p, "any") {
		return 0, true
	}
	if n, ok := protocols[strings.ToLower(p)]; ok {
		return n, true
	}
	i, err := strconv.Atoi(p)
	if err != nil || i < 0 || i > 255 {
		return 0, false
	}
	return uint8(i), true
}

// ProtocolNames are the protocol names of the table, sorted.
func ProtocolNames() []string {
	return slices.Sorted(maps.Keys(protocols))
}

// ProtocolIsIPv6Only reports whether protocol n exists only in IPv6 (its
// extension headers and ICMPv6): a rule with ethertype IPv4 may not use it.
func ProtocolIsIPv6Only(n uint8) bool {
	switch n {
	case 41, 43, 44, ProtoICMPv6, 59, 60:
		return true
	}
	return false
}

// ProtocolHasPorts reports whether protocol n has ports a rule's port
// range applies to: TCP, UDP, UDP-Lite, SCTP and DCCP.
func ProtocolHasPorts(n uint8) bool {
	switch n {
	case ProtoTCP, ProtoUDP, ProtoUDPLite, ProtoSCTP, ProtoDCCP:
		return true
	}
	return false
}
