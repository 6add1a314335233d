// Package ra is the IPv6 router advertisement responder that a Wyvern agent
// runs for the VMs on its own chassis, in place of radvd.
//
// The pipeline sends router solicitations from local ports to the agent as
// packet-ins; [Respond] answers one with the advertisement of the port's
// network, and [Build] makes the periodic unsolicited advertisements the
// agent sends to every local port. Both are pure: they take frames and an
// [Advert] and return complete Ethernet frames with correct checksums, do no
// I/O, keep no state and never panic.
//
// An [Advert] carries what Neutron's three IPv6 modes need (RFC 4861,
// RFC 8106): the M and O flags (dhcpv6-stateful sets M and O,
// dhcpv6-stateless sets O, slaac neither), prefix information with the
// on-link (L) and autonomous (A) flags, the link MTU, and the subnet's DNS
// servers (RDNSS) and search domain (DNSSL).
package ra

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ErrMalformed is wrapped by the errors of frames that are not a valid
// router solicitation.
var ErrMalformed = errors.New("ra: malformed router solicitation")

// Prefix is one prefix information option.
type Prefix struct {
	Prefix netip.Prefix
	// OnLink is the L flag, Autonomous the A flag (SLAAC).
	OnLink, Autonomous bool
	// Valid and Preferred are the lifetimes; 0: infinite.
	Valid, Preferred time.Duration
}

// Advert is a router advertisement.
type Advert struct {
	// SrcMAC and SrcIP are the router's MAC and link-local address.
	SrcMAC net.HardwareAddr
	SrcIP  netip.Addr
	// Managed (M) and Other (O) flags.
	Managed, Other bool
	// HopLimit advertised to hosts; 0: unspecified.
	HopLimit uint8
	// RouterLifetime: 0 says the sender is not a default router.
	RouterLifetime time.Duration
	// MTU of the link; 0: no MTU option.
	MTU      int
	Prefixes []Prefix
	// RDNSS are recursive DNS servers, DNSSL the search domains.
	RDNSS []netip.Addr
	DNSSL []string
	// DNSLifetime bounds RDNSS and DNSSL; 0: 3 × the maximum interval
	// RFC 8106 suggests, here 1800 s.
	DNSLifetime time.Duration
}

// Solicitation is a parsed router solicitation.
type Solicitation struct {
	SrcMAC net.HardwareAddr
	SrcIP  netip.Addr
}

// AllNodes is ff02::1, where unsolicited advertisements go.
var AllNodes = netip.MustParseAddr("ff02::1")

var allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}

// LinkLocal is the EUI-64 link-local address of a MAC (fe80::/64).
func LinkLocal(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	if len(mac) == 6 {
		b[8], b[9], b[10] = mac[0]^2, mac[1], mac[2]
		b[11], b[12] = 0xff, 0xfe
		b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(b)
}

// ParseSolicitation decodes a router solicitation frame (Ethernet, IPv6,
// ICMPv6 type 133, code 0, hop limit 255, as RFC 4861 §6.1.1 requires).
func ParseSolicitation(frame []byte) (Solicitation, error) {
	var (
		eth  layers.Ethernet
		ip6  layers.IPv6
		icmp layers.ICMPv6
		rs   layers.ICMPv6RouterSolicitation
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip6, &icmp, &rs)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		return Solicitation{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(decoded) != 4 || decoded[3] != layers.LayerTypeICMPv6RouterSolicitation {
		return Solicitation{}, fmt.Errorf("%w: layers %v", ErrMalformed, decoded)
	}
	if icmp.TypeCode.Code() != 0 || ip6.HopLimit != 255 {
		return Solicitation{}, fmt.Errorf("%w: code %d, hop limit %d", ErrMalformed, icmp.TypeCode.Code(), ip6.HopLimit)
	}
	src, ok := netip.AddrFromSlice(ip6.SrcIP)
	if !ok || !src.Is6() {
		return Solicitation{}, fmt.Errorf("%w: source %v", ErrMalformed, ip6.SrcIP)
	}
	if len(eth.SrcMAC) != 6 {
		return Solicitation{}, fmt.Errorf("%w: source MAC", ErrMalformed)
	}
	return Solicitation{SrcMAC: append(net.HardwareAddr(nil), eth.SrcMAC...), SrcIP: src}, nil
}

// LookupFunc returns the advertisement for the port with the soliciting
// MAC; false: none (the solicitation is not answered).
type LookupFunc func(mac net.HardwareAddr) (Advert, bool)

// Respond answers one router solicitation frame, as received in a
// packet-in, with the advertisement lookup gives: unicast to the
// solicitor, or to all nodes when it solicited from the unspecified
// address. It returns nil and no error when there is nothing to answer.
func Respond(frame []byte, lookup LookupFunc) ([]byte, error) {
	rs, err := ParseSolicitation(frame)
	if err != nil {
		return nil, err
	}
	a, ok := lookup(rs.SrcMAC)
	if !ok {
		return nil, nil
	}
	if rs.SrcIP.IsUnspecified() {
		return Build(a, allNodesMAC, AllNodes)
	}
	return Build(a, rs.SrcMAC, rs.SrcIP)
}

// ND option types (RFC 4861, RFC 8106).
const (
	optSourceLL = 1
	optPrefix   = 3
	optMTU      = 5
	optRDNSS    = 25
	optDNSSL    = 31
)

// Build encodes the advertisement as a frame to dstMAC and dstIP.
func Build(a Advert, dstMAC net.HardwareAddr, dstIP netip.Addr) ([]byte, error) {
	if len(a.SrcMAC) != 6 || !a.SrcIP.Is6() || len(dstMAC) != 6 || !dstIP.Is6() {
		return nil, fmt.Errorf("ra: bad addresses %v %v → %v %v", a.SrcMAC, a.SrcIP, dstMAC, dstIP)
	}
	var flags uint8
	if a.Managed {
		flags |= 0x80
	}
	if a.Other {
		flags |= 0x40
	}
	body := &layers.ICMPv6RouterAdvertisement{
		HopLimit:       a.HopLimit,
		Flags:          flags,
		RouterLifetime: uint16(min(a.RouterLifetime/time.Second, 9000)),
	}
	// Options are prepended in turn on serialization: list them last first.
	var opts []layers.ICMPv6Option
	if len(a.DNSSL) > 0 {
		if d, err := dnsslData(a.DNSSL, dnsLifetime(a)); err == nil {
			opts = append(opts, layers.ICMPv6Option{Type: optDNSSL, Data: d})
		}
	}
	if len(a.RDNSS) > 0 {
		d := make([]byte, 6, 6+16*len(a.RDNSS))
		be32(d[2:], seconds(dnsLifetime(a)))
		for _, s := range a.RDNSS {
			b := s.As16()
			d = append(d, b[:]...)
		}
		opts = append(opts, layers.ICMPv6Option{Type: optRDNSS, Data: d})
	}
	for i := len(a.Prefixes) - 1; i >= 0; i-- {
		p := a.Prefixes[i]
		if !p.Prefix.Addr().Is6() {
			continue
		}
		d := make([]byte, 30)
		d[0] = byte(p.Prefix.Bits())
		if p.OnLink {
			d[1] |= 0x80
		}
		if p.Autonomous {
			d[1] |= 0x40
		}
		be32(d[2:], seconds(p.Valid))
		be32(d[6:], seconds(p.Preferred))
		pfx := p.Prefix.Masked().Addr().As16()
		copy(d[14:], pfx[:])
		opts = append(opts, layers.ICMPv6Option{Type: optPrefix, Data: d})
	}
	if a.MTU > 0 {
		d := make([]byte, 6)
		be32(d[2:], uint32(a.MTU))
		opts = append(opts, layers.ICMPv6Option{Type: optMTU, Data: d})
	}
	opts = append(opts, layers.ICMPv6Option{Type: optSourceLL, Data: append(net.HardwareAddr(nil), a.SrcMAC...)})
	body.Options = opts
	eth := &layers.Ethernet{SrcMAC: a.SrcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: a.SrcIP.AsSlice(), DstIP: dstIP.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterAdvertisement, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		return nil, fmt.Errorf("ra: %w", err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip6, icmp, body); err != nil {
		return nil, fmt.Errorf("ra: encode: %w", err)
	}
	return buf.Bytes(), nil
}

func dnsLifetime(a Advert) time.Duration {
	if a.DNSLifetime == 0 {
		return 1800 * time.Second
	}
	return a.DNSLifetime
}

// dnsslData is the DNSSL option's data: reserved, lifetime and the names
// in DNS wire format, padded to a multiple of 8 bytes with the type and
// length.
func dnsslData(names []string, life time.Duration) ([]byte, error) {
	d := make([]byte, 6)
	be32(d[2:], seconds(life))
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		if n == "" {
			continue
		}
		for _, label := range strings.Split(n, ".") {
			if label == "" || len(label) > 63 {
				return nil, fmt.Errorf("ra: bad domain %q", n)
			}
			d = append(d, byte(len(label)))
			d = append(d, label...)
		}
		d = append(d, 0)
	}
	for (len(d)+2)%8 != 0 {
		d = append(d, 0)
	}
	if len(d)+2 > 255*8 {
		return nil, errors.New("ra: DNSSL too long")
	}
	return d, nil
}

// seconds is a lifetime on the wire: 0 is infinite (0xffffffff).
func seconds(d time.Duration) uint32 {
	if d <= 0 || d/time.Second >= 0xffffffff {
		return 0xffffffff
	}
	return uint32(d / time.Second)
}

func be32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
