package dhcp6

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

var (
	clientMAC = net.HardwareAddr{0xfa, 0x16, 0x3e, 0x11, 0x22, 0x33}
	serverMAC = net.HardwareAddr{0x02, 0x57, 0x59, 0, 0, 1}
	clientLLA = netip.MustParseAddr("fe80::f816:3eff:fe11:2233")
)

func lease(stateful bool) Lease {
	l := Lease{ServerMAC: serverMAC, ServerIP: netip.MustParseAddr("fe80::57:59ff:fe00:1"),
		Prefix: netip.MustParsePrefix("2001:db8:2::/64"), Preferred: time.Hour, Valid: 2 * time.Hour,
		DNS: []netip.Addr{netip.MustParseAddr("2001:db8::53")}, DomainSearch: []string{"openstacklocal"}}
	if stateful {
		l.Address = netip.MustParseAddr("2001:db8:2::5")
	}
	return l
}

func frame(t testing.TB, m *dhcpv6.Message) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 1, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: clientLLA.AsSlice(), DstIP: net.ParseIP("ff02::1:2")}
	udp := &layers.UDP{SrcPort: ClientPort, DstPort: ServerPort}
	_ = udp.SetNetworkLayerForChecksum(ip6)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip6, udp, gopacket.Payload(m.ToBytes())); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func solicit(t testing.TB, mods ...dhcpv6.Modifier) *dhcpv6.Message {
	t.Helper()
	m, err := dhcpv6.NewSolicit(clientMAC, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// reply decodes a reply frame, checking addresses and the UDP checksum.
func reply(t testing.TB, out []byte) *dhcpv6.Message {
	t.Helper()
	pkt := gopacket.NewPacket(out, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip6, _ := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if eth == nil || ip6 == nil || udp == nil {
		t.Fatalf("not UDP/IPv6: %v", pkt)
	}
	if !bytes.Equal(eth.DstMAC, clientMAC) || !bytes.Equal(eth.SrcMAC, serverMAC) || udp.SrcPort != ServerPort || udp.DstPort != ClientPort {
		t.Fatalf("addressing %v→%v %d→%d", eth.SrcMAC, eth.DstMAC, udp.SrcPort, udp.DstPort)
	}
	if dst, _ := netip.AddrFromSlice(ip6.DstIP); dst != clientLLA {
		t.Fatalf("dst %v", dst)
	}
	check := *udp
	_ = check.SetNetworkLayerForChecksum(ip6)
	buf := gopacket.NewSerializeBuffer()
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, &check, gopacket.Payload(udp.Payload))
	if !bytes.Equal(buf.Bytes()[6:8], udp.Contents[6:8]) {
		t.Fatalf("UDP checksum %x, want %x", udp.Contents[6:8], buf.Bytes()[6:8])
	}
	m, err := dhcpv6.MessageFromBytes(udp.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func respond(t *testing.T, m *dhcpv6.Message, l Lease) *dhcpv6.Message {
	t.Helper()
	out, err := Respond(frame(t, m), func(mac net.HardwareAddr) (Lease, bool) { return l, bytes.Equal(mac, clientMAC) })
	if err != nil {
		t.Fatal(err)
	}
	if out == nil {
		return nil
	}
	return reply(t, out)
}

func address(m *dhcpv6.Message) netip.Addr {
	ia := m.Options.OneIANA()
	if ia == nil || ia.Options.OneAddress() == nil {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(ia.Options.OneAddress().IPv6Addr)
	return a
}

func TestStatefulExchange(t *testing.T) {
	l := lease(true)
	adv := respond(t, solicit(t), l)
	if adv == nil || adv.Type() != dhcpv6.MessageTypeAdvertise || address(adv) != l.Address {
		t.Fatalf("advertise: %v", adv)
	}
	if len(adv.Options.DNS()) != 1 || !adv.Options.ServerID().Equal(ServerDUID(serverMAC)) {
		t.Fatalf("options: %v", adv)
	}
	req, err := dhcpv6.NewRequestFromAdvertise(adv)
	if err != nil {
		t.Fatal(err)
	}
	rep := respond(t, req, l)
	if rep == nil || rep.Type() != dhcpv6.MessageTypeReply || address(rep) != l.Address || rep.TransactionID != req.TransactionID {
		t.Fatalf("reply: %v", rep)
	}
	if ia := rep.Options.OneIANA(); ia.T1 != 30*time.Minute || ia.Options.OneAddress().ValidLifetime != 2*time.Hour {
		t.Fatalf("lifetimes: %v", ia)
	}
	// A request to another server is not ours to answer.
	other, _ := dhcpv6.NewRequestFromAdvertise(adv, dhcpv6.WithServerID(&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: clientMAC}))
	if got := respond(t, other, l); got != nil {
		t.Fatalf("answered another server's request: %v", got)
	}
	// Rapid commit gets a reply at once.
	rc := respond(t, solicit(t, dhcpv6.WithRapidCommit), l)
	if rc.Type() != dhcpv6.MessageTypeReply || address(rc) != l.Address {
		t.Fatalf("rapid commit: %v", rc)
	}
}

func TestStateless(t *testing.T) {
	l := lease(false)
	info, err := dhcpv6.NewMessage(dhcpv6.WithClientID(&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: clientMAC}))
	if err != nil {
		t.Fatal(err)
	}
	info.MessageType = dhcpv6.MessageTypeInformationRequest
	rep := respond(t, info, l)
	if rep == nil || rep.Type() != dhcpv6.MessageTypeReply || len(rep.Options.DNS()) != 1 || rep.Options.DomainSearchList() == nil {
		t.Fatalf("information reply: %v", rep)
	}
	if address(rep).IsValid() {
		t.Fatal("stateless reply carries an address")
	}
	adv := respond(t, solicit(t), l)
	if adv == nil || adv.Options.Status() == nil || adv.Options.Status().StatusCode != iana.StatusNoAddrsAvail {
		t.Fatalf("solicit on stateless: %v", adv)
	}
}

func TestConfirm(t *testing.T) {
	l := lease(true)
	for addr, want := range map[string]iana.StatusCode{"2001:db8:2::5": iana.StatusSuccess, "2001:db8:9::5": iana.StatusNotOnLink} {
		m := solicit(t, dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(addr)}))
		m.MessageType = dhcpv6.MessageTypeConfirm
		rep := respond(t, m, l)
		if rep == nil || rep.Options.Status() == nil || rep.Options.Status().StatusCode != want {
			t.Fatalf("confirm %s: %v", addr, rep)
		}
	}
}

func TestUnknownClient(t *testing.T) {
	out, err := Respond(frame(t, solicit(t)), func(net.HardwareAddr) (Lease, bool) { return Lease{}, false })
	if out != nil || err != nil {
		t.Fatalf("%v %v", out, err)
	}
}

// FuzzRespond: never panics, fails only with ErrMalformed, and every reply
// is a DHCPv6 message to the client with a valid checksum.
func FuzzRespond(f *testing.F) {
	f.Add(frame(f, solicit(f)))
	f.Add(frame(f, solicit(f, dhcpv6.WithRapidCommit)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Respond(in, func(net.HardwareAddr) (Lease, bool) { return lease(true), true })
		if err != nil {
			if out != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v with reply %v", err, out != nil)
			}
			return
		}
		if out != nil {
			pkt := gopacket.NewPacket(out, layers.LayerTypeEthernet, gopacket.Default)
			udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if udp == nil {
				t.Fatal("reply without UDP")
			}
			if _, err := dhcpv6.MessageFromBytes(udp.Payload); err != nil {
				t.Fatal(err)
			}
		}
	})
}
