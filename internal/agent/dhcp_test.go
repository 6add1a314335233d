package agent

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// discover frames a DHCPDISCOVER from mac as a booting VM sends it.
func discover(t *testing.T, mac string) []byte {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := dhcpv4.NewDiscovery(hw)
	if err != nil {
		t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: hw, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero.To4(), DstIP: net.IPv4bcast.To4()}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(msg.ToBytes())); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDHCPPortFromMetadata: the pipeline traps DHCP with one flow per
// network, so the agent finds the port from the in-port key register of
// the packet-in, and answers only a port with an address on a
// DHCP-enabled subnet.
func TestDHCPPortFromMetadata(t *testing.T) {
	st := startStore(t)
	seed(t, st, "net-a", 100, map[string]string{"pa1": "fa:16:3e:00:00:01"})
	// pa2 has no address at all.
	if err := st.Txn(context.Background(), func(tx *store.Tx) error {
		p := model.Port{Standard: model.Standard{ID: "pa2"}, NetworkID: "net-a", MACAddress: "fa:16:3e:00:00:02",
			PortSecurityEnabled: true, Status: model.StatusDown}
		if err := tx.Put(store.PortKey("net-a", "pa2"), p); err != nil {
			return err
		}
		tx.PutString(store.IndexKey(store.KindPorts, "pa2"), "net-a")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sw := newFakeSwitch()
	runAgent(t, st, sw, "ch1")
	sw.plug("tap1", "pa1", "fa:16:3e:00:00:01", 5)
	sw.plug("tap2", "pa2", "fa:16:3e:00:00:02", 6)
	waitFor(t, "the DHCP trap flow", func() bool { return strings.Contains(sw.text(), "controller(") })
	waitFor(t, "both ports classified", func() bool {
		txt := sw.text()
		return strings.Contains(txt, "in_port=5,") && strings.Contains(txt, "in_port=6,")
	})
	ud := pipeline.UserData(pipeline.PacketInDHCPv4, 100)

	noAnswer := func(why string, pin PacketIn) {
		t.Helper()
		sw.pins <- pin
		select {
		case <-sw.out:
			t.Errorf("%s: answered", why)
		case <-time.After(300 * time.Millisecond):
		}
	}
	noAnswer("no port key", PacketIn{InPort: 5, UserData: ud, Data: discover(t, "fa:16:3e:00:00:01")})
	noAnswer("unknown port key", PacketIn{InPort: 5, PortKey: 99, UserData: ud, Data: discover(t, "fa:16:3e:00:00:01")})
	noAnswer("port without address", PacketIn{InPort: 6, PortKey: 6, UserData: ud, Data: discover(t, "fa:16:3e:00:00:02")})
	noAnswer("another port's MAC", PacketIn{InPort: 6, PortKey: 6, UserData: ud, Data: discover(t, "fa:16:3e:00:00:01")})
	noAnswer("not a DHCP packet-in", PacketIn{InPort: 5, PortKey: 5, UserData: []byte{9, 0, 0, 0, 0, 0, 0, 0},
		Data: discover(t, "fa:16:3e:00:00:01")})

	sw.pins <- PacketIn{InPort: 5, PortKey: 5, UserData: ud, Data: discover(t, "fa:16:3e:00:00:01")}
	select {
	case frame := <-sw.out:
		pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatalf("reply is not UDP: %v", pkt)
		}
		reply, err := dhcpv4.FromBytes(udp.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if reply.MessageType() != dhcpv4.MessageTypeOffer || reply.YourIPAddr.String() != "10.0.0.11" {
			t.Errorf("reply %s", reply.Summary())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer for the port's key")
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if len(sw.outPorts) != 1 || sw.outPorts[0] != 5 {
		t.Errorf("packet-outs to %v, want [5]", sw.outPorts)
	}
}
