package agent

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv6"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/ra"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// v6Frame frames an ICMPv6 or UDP payload from mac's link-local address.
func v6Frame(t *testing.T, mac net.HardwareAddr, dst string, l ...gopacket.SerializableLayer) []byte {
	t.Helper()
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, SrcIP: ra.LinkLocal(mac).AsSlice(), DstIP: net.ParseIP(dst)}
	switch x := l[0].(type) {
	case *layers.ICMPv6:
		ip6.NextHeader = layers.IPProtocolICMPv6
		_ = x.SetNetworkLayerForChecksum(ip6)
	case *layers.UDP:
		ip6.NextHeader = layers.IPProtocolUDP
		_ = x.SetNetworkLayerForChecksum(ip6)
	}
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		append([]gopacket.SerializableLayer{eth, ip6}, l...)...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestIPv6Services: on a network with a dhcpv6-stateful subnet behind a
// router, the agent advertises the router (from its interface's MAC and
// link-local address, M and O set) unsolicited when the port appears and
// in answer to a solicitation, and hands the port its address by DHCPv6.
func TestIPv6Services(t *testing.T) {
	st := startStore(t)
	seed(t, st, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01"})
	sub6 := model.Subnet{Standard: model.Standard{ID: "s6"}, NetworkID: "net-a", IPVersion: 6, CIDR: "2001:db8:1::/64",
		GatewayIP: "2001:db8:1::1", EnableDHCP: true, IPv6RAMode: "dhcpv6-stateful", IPv6AddressMode: "dhcpv6-stateful",
		DNSNameservers: []string{"2001:db8::53"}}
	write(t, st, store.SubnetKey("net-a", "s6"), sub6)
	p := model.Port{Standard: model.Standard{ID: "pa1"}, NetworkID: "net-a", MACAddress: "fa:16:3e:00:00:01", PortSecurityEnabled: true,
		Status: model.StatusDown, FixedIPs: []model.FixedIP{{SubnetID: "s-net-a", IPAddress: "10.0.0.11"}, {SubnetID: "s6", IPAddress: "2001:db8:1::11"}}}
	write(t, st, store.PortKey("net-a", "pa1"), p)
	ri := model.Port{Standard: model.Standard{ID: "ri"}, NetworkID: "net-a", MACAddress: "fa:16:3e:ff:00:01",
		DeviceOwner: model.OwnerRouterInterface, DeviceID: "r1", FixedIPs: []model.FixedIP{{SubnetID: "s6", IPAddress: "2001:db8:1::1"}}}
	write(t, st, store.PortKey("net-a", "ri"), ri)
	write(t, st, store.IndexKey(store.KindPorts, "ri"), "net-a")

	sw := newFakeSwitch()
	runAgent(t, st, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	rtr, _ := net.ParseMAC("fa:16:3e:ff:00:01")
	vm, _ := net.ParseMAC("fa:16:3e:00:00:01")

	next := func(what string) gopacket.Packet {
		t.Helper()
		select {
		case f := <-sw.out:
			return gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", what)
			return nil
		}
	}
	checkRA := func(pkt gopacket.Packet, dst string) {
		t.Helper()
		eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip6, _ := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		adv, ok := pkt.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
		if !ok || eth.SrcMAC.String() != rtr.String() || !ip6.DstIP.Equal(net.ParseIP(dst)) {
			t.Fatalf("not the router's advertisement to %s: %v", dst, pkt)
		}
		if src, _ := netip.AddrFromSlice(ip6.SrcIP); src != ra.LinkLocal(rtr) {
			t.Fatalf("source %v", src)
		}
		if !adv.ManagedAddressConfig() || !adv.OtherConfig() || adv.RouterLifetime == 0 {
			t.Fatalf("advertisement %+v", adv)
		}
	}
	checkRA(next("unsolicited advertisement"), "ff02::1")

	waitFor(t, "the RS trap flow", func() bool { return strings.Contains(sw.text(), "icmpv6_type=133") })
	sw.pins <- PacketIn{InPort: 5, PortKey: 5, UserData: pipeline.UserData(pipeline.PacketInRS, 100),
		Data: v6Frame(t, vm, "ff02::2", &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0)},
			&layers.ICMPv6RouterSolicitation{})}
	checkRA(next("solicited advertisement"), ra.LinkLocal(vm).String())

	sol, err := dhcpv6.NewSolicit(vm)
	if err != nil {
		t.Fatal(err)
	}
	sw.pins <- PacketIn{InPort: 5, PortKey: 5, UserData: pipeline.UserData(pipeline.PacketInDHCPv6, 100),
		Data: v6Frame(t, vm, "ff02::1:2", &layers.UDP{SrcPort: 546, DstPort: 547}, gopacket.Payload(sol.ToBytes()))}
	udp, ok := next("DHCPv6 advertise").Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok {
		t.Fatal("DHCPv6 answer is not UDP")
	}
	adv, err := dhcpv6.MessageFromBytes(udp.Payload)
	if err != nil {
		t.Fatal(err)
	}
	ia := adv.Options.OneIANA()
	if adv.Type() != dhcpv6.MessageTypeAdvertise || ia == nil || ia.Options.OneAddress() == nil ||
		!ia.Options.OneAddress().IPv6Addr.Equal(net.ParseIP("2001:db8:1::11")) || len(adv.Options.DNS()) != 1 {
		t.Fatalf("DHCPv6 answer %v", adv)
	}
}
