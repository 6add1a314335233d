package ra

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	vmMAC     = net.HardwareAddr{0xfa, 0x16, 0x3e, 0x11, 0x22, 0x33}
	routerMAC = net.HardwareAddr{0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc}
)

// solicit builds a router solicitation from src (with a source link-layer
// option unless src is ::).
func solicit(t testing.TB, src netip.Addr, hop uint8) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: vmMAC, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: hop, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: src.AsSlice(), DstIP: net.ParseIP("ff02::2")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0)}
	_ = icmp.SetNetworkLayerForChecksum(ip6)
	rs := &layers.ICMPv6RouterSolicitation{}
	if !src.IsUnspecified() {
		rs.Options = layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: vmMAC}}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip6, icmp, rs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testAdvert() Advert {
	return Advert{
		SrcMAC: routerMAC, SrcIP: LinkLocal(routerMAC), Other: true, HopLimit: 64,
		RouterLifetime: 1800 * time.Second, MTU: 1450,
		Prefixes: []Prefix{{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), OnLink: true, Autonomous: true,
			Valid: 86400 * time.Second, Preferred: 14400 * time.Second}},
		RDNSS: []netip.Addr{netip.MustParseAddr("2001:db8::53")},
		DNSSL: []string{"openstacklocal"},
	}
}

// decodeRA decodes an advertisement frame, checking its ICMPv6 checksum.
func decodeRA(t testing.TB, frame []byte) (*layers.Ethernet, *layers.IPv6, *layers.ICMPv6RouterAdvertisement) {
	t.Helper()
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("decode: %v", el.Error())
	}
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip6, _ := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	icmp, _ := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	ra, _ := pkt.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
	if eth == nil || ip6 == nil || icmp == nil || ra == nil {
		t.Fatalf("not an RA: %v", pkt)
	}
	// Recompute the checksum over the ICMPv6 message.
	check := *icmp
	_ = check.SetNetworkLayerForChecksum(ip6)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &check, gopacket.Payload(icmp.Payload)); err != nil {
		t.Fatal(err)
	}
	if got := buf.Bytes(); !bytes.Equal(got[2:4], icmp.Contents[2:4]) {
		t.Fatalf("ICMPv6 checksum %x, want %x", icmp.Contents[2:4], got[2:4])
	}
	if ip6.HopLimit != 255 {
		t.Fatalf("hop limit %d", ip6.HopLimit)
	}
	return eth, ip6, ra
}

func option(ra *layers.ICMPv6RouterAdvertisement, typ layers.ICMPv6Opt) []byte {
	for _, o := range ra.Options {
		if o.Type == typ {
			return o.Data
		}
	}
	return nil
}

func TestRespondUnicast(t *testing.T) {
	lla := LinkLocal(vmMAC)
	out, err := Respond(solicit(t, lla, 255), func(mac net.HardwareAddr) (Advert, bool) {
		return testAdvert(), bytes.Equal(mac, vmMAC)
	})
	if err != nil {
		t.Fatal(err)
	}
	eth, ip6, ra := decodeRA(t, out)
	if !bytes.Equal(eth.DstMAC, vmMAC) || !bytes.Equal(eth.SrcMAC, routerMAC) {
		t.Fatalf("macs %v → %v", eth.SrcMAC, eth.DstMAC)
	}
	if got, _ := netip.AddrFromSlice(ip6.DstIP); got != lla {
		t.Fatalf("dst %v, want %v", got, lla)
	}
	if got, _ := netip.AddrFromSlice(ip6.SrcIP); got.String() != "fe80::f816:3eff:feaa:bbcc" {
		t.Fatalf("src %v", got)
	}
	if ra.ManagedAddressConfig() || !ra.OtherConfig() || ra.RouterLifetime != 1800 || ra.HopLimit != 64 {
		t.Fatalf("header %+v", ra)
	}
	p := option(ra, layers.ICMPv6OptPrefixInfo)
	if len(p) != 30 || p[0] != 64 || p[1] != 0xc0 || !bytes.Equal(p[14:], net.ParseIP("2001:db8:1::")) {
		t.Fatalf("prefix option % x", p)
	}
	if m := option(ra, layers.ICMPv6OptMTU); len(m) != 6 || m[5] != 0xaa || m[4] != 0x05 {
		t.Fatalf("mtu option % x", m)
	}
	if s := option(ra, layers.ICMPv6OptSourceAddress); !bytes.Equal(s, routerMAC) {
		t.Fatalf("sll % x", s)
	}
	if r := option(ra, optRDNSS); len(r) != 22 || !bytes.Equal(r[6:], net.ParseIP("2001:db8::53")) {
		t.Fatalf("rdnss % x", r)
	}
	if d := option(ra, optDNSSL); !bytes.Contains(d, []byte("\x0eopenstacklocal\x00")) || (len(d)+2)%8 != 0 {
		t.Fatalf("dnssl % x", d)
	}
}

func TestModesFlags(t *testing.T) {
	for _, c := range []struct{ m, o bool }{{false, false}, {false, true}, {true, true}} {
		a := testAdvert()
		a.Managed, a.Other = c.m, c.o
		out, err := Build(a, allNodesMAC, AllNodes)
		if err != nil {
			t.Fatal(err)
		}
		_, _, ra := decodeRA(t, out)
		if ra.ManagedAddressConfig() != c.m || ra.OtherConfig() != c.o {
			t.Fatalf("M/O = %v/%v, want %v/%v", ra.ManagedAddressConfig(), ra.OtherConfig(), c.m, c.o)
		}
	}
}

func TestRespondFromUnspecifiedIsMulticast(t *testing.T) {
	out, err := Respond(solicit(t, netip.IPv6Unspecified(), 255), func(net.HardwareAddr) (Advert, bool) { return testAdvert(), true })
	if err != nil {
		t.Fatal(err)
	}
	eth, ip6, _ := decodeRA(t, out)
	if !bytes.Equal(eth.DstMAC, allNodesMAC) || !net.IP(ip6.DstIP).Equal(net.ParseIP("ff02::1")) {
		t.Fatalf("dst %v %v", eth.DstMAC, ip6.DstIP)
	}
}

func TestRespondRefuses(t *testing.T) {
	yes := func(net.HardwareAddr) (Advert, bool) { return testAdvert(), true }
	if _, err := Respond(solicit(t, LinkLocal(vmMAC), 64), yes); !errors.Is(err, ErrMalformed) {
		t.Fatalf("hop limit 64: %v", err)
	}
	if out, err := Respond(solicit(t, LinkLocal(vmMAC), 255), func(net.HardwareAddr) (Advert, bool) { return Advert{}, false }); out != nil || err != nil {
		t.Fatalf("unknown port: %v %v", out, err)
	}
	if _, err := Respond([]byte{1, 2, 3}, yes); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestLinkLocal(t *testing.T) {
	if got := LinkLocal(vmMAC).String(); got != "fe80::f816:3eff:fe11:2233" {
		t.Fatal(got)
	}
}

// FuzzRespond: never panics, fails only with ErrMalformed, and every reply
// is a valid advertisement.
func FuzzRespond(f *testing.F) {
	f.Add(solicit(f, LinkLocal(vmMAC), 255))
	f.Add(solicit(f, netip.IPv6Unspecified(), 255))
	f.Add(solicit(f, LinkLocal(vmMAC), 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		out, err := Respond(frame, func(net.HardwareAddr) (Advert, bool) { return testAdvert(), true })
		if err != nil {
			if out != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v with reply %v", err, out != nil)
			}
			return
		}
		if out != nil {
			decodeRA(t, out)
		}
	})
}
