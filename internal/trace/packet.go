package trace

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Protocol numbers the trace knows by name.
const (
	protoICMP = 1
	protoTCP  = 6
	protoUDP  = 17
	// protoICMPv6 is ICMP of an IPv6 packet ("icmp" with IPv6 addresses).
	protoICMPv6 = 58
)

// Packet describes the packet a source port sends: the first packet of a
// new connection (conntrack state new).
type Packet struct {
	// Proto is "tcp", "udp", "icmp", "arp" or "ip" (any other IP protocol,
	// by number in ProtoNum). "icmp" between IPv6 addresses is ICMPv6
	// (ProtoNum 58).
	Proto    string `json:"proto"`
	ProtoNum uint8  `json:"proto_num,omitempty"`
	// Src is the source address; invalid: the port's first fixed IP of
	// Dst's family.
	Src netip.Addr `json:"src"`
	Dst netip.Addr `json:"dst"`
	// SrcPort and DstPort are the TCP/UDP ports (SrcPort 0: 40000).
	SrcPort uint16 `json:"src_port,omitempty"`
	DstPort uint16 `json:"dst_port,omitempty"`
	// ICMPType and ICMPCode of an ICMP packet (default echo request: 8/0,
	// ICMPv6 128/0).
	ICMPType uint8 `json:"icmp_type"`
	ICMPCode uint8 `json:"icmp_code"`
	// TTL of the IP header (default 64).
	TTL uint8 `json:"ttl"`
}

// ParsePacket parses a packet description: a protocol followed by
// comma-separated clauses, e.g.
//
//	tcp, dst 10.0.2.5:22
//	udp, src 10.0.1.4:5000, dst 10.0.2.5:53
//	icmp, dst 10.0.2.5, type 8, code 0
//	arp, dst 10.0.1.1
//	ip proto 47, dst 10.0.2.5
//
//	icmp, dst 2001:db8:2::5
//	tcp, dst [2001:db8:2::5]:22
//
// Clauses: src ADDR[:PORT], dst ADDR[:PORT], type N, code N, ttl N (the
// hop limit of IPv6). IPv4 or IPv6, both addresses of one family.
func ParsePacket(s string) (Packet, error) {
	p := Packet{ICMPType: 8, TTL: 64}
	typeGiven := false
	clauses := strings.Split(s, ",")
	head := strings.Fields(strings.ToLower(clauses[0]))
	switch {
	case len(head) == 1 && (head[0] == "tcp" || head[0] == "udp" || head[0] == "icmp" || head[0] == "arp"):
		p.Proto = head[0]
		p.ProtoNum = map[string]uint8{"tcp": protoTCP, "udp": protoUDP, "icmp": protoICMP}[head[0]]
	case len(head) == 3 && head[0] == "ip" && head[1] == "proto":
		n, err := strconv.ParseUint(head[2], 10, 8)
		if err != nil {
			return p, fmt.Errorf("packet: bad protocol number %q", head[2])
		}
		p.Proto, p.ProtoNum = "ip", uint8(n)
		switch n {
		case protoTCP, protoUDP, protoICMP:
			p.Proto = map[uint64]string{protoTCP: "tcp", protoUDP: "udp", protoICMP: "icmp"}[n]
		}
	default:
		return p, fmt.Errorf("packet: %q: want tcp, udp, icmp, arp or \"ip proto N\" first", strings.TrimSpace(clauses[0]))
	}
	for _, c := range clauses[1:] {
		f := strings.Fields(c)
		if len(f) != 2 {
			return p, fmt.Errorf("packet: clause %q: want KEY VALUE", strings.TrimSpace(c))
		}
		key, val := strings.ToLower(f[0]), f[1]
		var err error
		switch key {
		case "src":
			p.Src, p.SrcPort, err = p.endpoint(val)
		case "dst":
			p.Dst, p.DstPort, err = p.endpoint(val)
		case "type", "code", "ttl":
			var n uint64
			if n, err = strconv.ParseUint(val, 10, 8); err != nil {
				return p, fmt.Errorf("packet: %s %q: want 0..255", key, val)
			}
			switch {
			case key == "ttl":
				p.TTL = uint8(n)
			case p.Proto != "icmp":
				return p, fmt.Errorf("packet: %s applies to icmp only", key)
			case key == "type":
				p.ICMPType, typeGiven = uint8(n), true
			default:
				p.ICMPCode = uint8(n)
			}
		default:
			return p, fmt.Errorf("packet: unknown clause %q (want src, dst, type, code or ttl)", key)
		}
		if err != nil {
			return p, err
		}
	}
	if !p.Dst.IsValid() {
		return p, fmt.Errorf("packet: needs a destination (dst ADDR)")
	}
	if p.Src.IsValid() && p.Src.Is4() != p.Dst.Is4() {
		return p, fmt.Errorf("packet: src %s and dst %s are of different families", p.Src, p.Dst)
	}
	if p.Dst.Is6() {
		switch p.Proto {
		case "arp":
			return p, fmt.Errorf("packet: arp is IPv4 (IPv6 neighbour solicitations are answered in flows)")
		case "icmp":
			p.ProtoNum = protoICMPv6
			if !typeGiven {
				p.ICMPType = icmp6EchoRequest
			}
		}
	}
	if p.Proto == "tcp" || p.Proto == "udp" {
		if p.DstPort == 0 {
			return p, fmt.Errorf("packet: %s needs a destination port (dst ADDR:PORT)", p.Proto)
		}
		if p.SrcPort == 0 {
			p.SrcPort = 40000
		}
	}
	return p, nil
}

// ICMPv6 echo request and reply.
const icmp6EchoRequest = 128

// isEcho reports whether the packet is an ICMP or ICMPv6 echo request.
func (p Packet) isEcho() bool {
	want := uint8(8)
	if p.ProtoNum == protoICMPv6 {
		want = icmp6EchoRequest
	}
	return p.Proto == "icmp" && p.ICMPType == want && p.ICMPCode == 0
}

// endpoint parses ADDR or ADDR:PORT (a port only for TCP and UDP).
func (p *Packet) endpoint(s string) (netip.Addr, uint16, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" || a.Is4In6() {
			return a, 0, fmt.Errorf("packet: %s: want a plain IPv4 or IPv6 address", s)
		}
		return a, 0, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("packet: bad address %q", s)
	}
	if p.Proto != "tcp" && p.Proto != "udp" {
		return netip.Addr{}, 0, fmt.Errorf("packet: %s: ports apply to tcp and udp only", s)
	}
	if a := ap.Addr(); a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, 0, fmt.Errorf("packet: %s: want a plain IPv4 or IPv6 address", s)
	}
	return ap.Addr(), ap.Port(), nil
}

// String renders the packet the way the trace prints it.
func (p Packet) String() string {
	var b strings.Builder
	b.WriteString(p.Proto)
	if p.Proto == "ip" {
		fmt.Fprintf(&b, " proto %d", p.ProtoNum)
	}
	ep := func(a netip.Addr, port uint16) string {
		if port != 0 {
			return netip.AddrPortFrom(a, port).String()
		}
		return a.String()
	}
	if p.Proto == "arp" {
		fmt.Fprintf(&b, " who-has %s tell %s", p.Dst, p.Src)
		return b.String()
	}
	fmt.Fprintf(&b, " %s → %s", ep(p.Src, p.SrcPort), ep(p.Dst, p.DstPort))
	if p.Proto == "icmp" {
		fmt.Fprintf(&b, " type %d code %d", p.ICMPType, p.ICMPCode)
	}
	fmt.Fprintf(&b, " ttl %d", p.TTL)
	return b.String()
}
