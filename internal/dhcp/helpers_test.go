package dhcp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	clientMAC = net.HardwareAddr{0xfa, 0x16, 0x3e, 0x11, 0x22, 0x33}
	otherMAC  = net.HardwareAddr{0xfa, 0x16, 0x3e, 0x44, 0x55, 0x66}
	serverMAC = net.HardwareAddr{0xfa, 0x16, 0x3e, 0x00, 0x00, 0x01}
)

func testLease() Lease {
	return Lease{
		MAC:    clientMAC,
		IP:     netip.MustParseAddr("10.0.0.5"),
		Prefix: netip.MustParsePrefix("10.0.0.0/24"),
		Router: netip.MustParseAddr("10.0.0.1"),
		DNS:    []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")},
		MTU:    1400,
		HostRoutes: []Route{
			{Dst: netip.MustParsePrefix("10.1.0.0/16"), NextHop: netip.MustParseAddr("10.0.0.254")},
		},
		LeaseTime:  time.Hour,
		DomainName: "openstack.test",
		Hostname:   "vm-1",
		ServerIP:   netip.MustParseAddr("10.0.0.1"),
		ServerMAC:  serverMAC,
	}
}

// leaseTable is a hand-written lookup: leases by MAC, and the identity a
// miss still returns.
type leaseTable struct {
	leases   map[string]Lease
	identity Lease
}

func (lt leaseTable) lookup(mac net.HardwareAddr) (Lease, bool) {
	l, ok := lt.leases[mac.String()]
	if !ok {
		return lt.identity, false
	}
	return l, true
}

func lookupOf(leases ...Lease) LookupFunc {
	lt := leaseTable{leases: map[string]Lease{}}
	for _, l := range leases {
		lt.leases[l.MAC.String()] = l
	}
	return lt.lookup
}

// clientFrame frames a client message as a client would send it.
func clientFrame(msg *dhcpv4.DHCPv4, src, dst netip.Addr, dstMAC net.HardwareAddr, vlan uint16) []byte {
	eth := &layers.Ethernet{SrcMAC: msg.ClientHWAddr, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	udp := &layers.UDP{SrcPort: ClientPort, DstPort: ServerPort}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		panic(err)
	}
	stack := []gopacket.SerializableLayer{eth}
	if vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		stack = append(stack, &layers.Dot1Q{VLANIdentifier: vlan, Type: layers.EthernetTypeIPv4})
	}
	stack = append(stack, ip, udp, gopacket.Payload(msg.ToBytes()))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, stack...); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// decodedReply is a reply frame taken apart.
type decodedReply struct {
	eth  layers.Ethernet
	vlan *layers.Dot1Q
	ip   layers.IPv4
	udp  layers.UDP
	msg  *dhcpv4.DHCPv4
}

// onesSum is the RFC 1071 sum, folded.
func onesSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum
}

// decodeReply parses a reply frame with gopacket and dhcpv4 and checks, by
// recomputing them independently, its lengths and checksums.
func decodeReply(frame []byte) (decodedReply, error) {
	var d decodedReply
	var dot1q layers.Dot1Q
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &d.eth, &dot1q, &d.ip, &d.udp)
	parser.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		return d, fmt.Errorf("decode: %w", err)
	}
	if parser.Truncated {
		return d, fmt.Errorf("truncated reply")
	}
	if len(decoded) > 0 && decoded[len(decoded)-1] != layers.LayerTypeUDP {
		return d, fmt.Errorf("reply layers %v, want ... UDP", decoded)
	}
	for _, l := range decoded {
		if l == layers.LayerTypeDot1Q {
			v := dot1q
			d.vlan = &v
		}
	}
	if d.ip.IHL != 5 || int(d.ip.Length) != 20+8+len(d.udp.Payload) {
		return d, fmt.Errorf("IPv4 IHL %d length %d for %d payload bytes", d.ip.IHL, d.ip.Length, len(d.udp.Payload))
	}
	if s := onesSum(0, d.ip.Contents); s != 0xffff {
		return d, fmt.Errorf("IPv4 header checksum %#04x wrong (sum %#04x)", d.ip.Checksum, s)
	}
	if int(d.udp.Length) != 8+len(d.udp.Payload) {
		return d, fmt.Errorf("UDP length %d for %d payload bytes", d.udp.Length, len(d.udp.Payload))
	}
	if d.udp.Checksum == 0 {
		return d, fmt.Errorf("UDP checksum absent")
	}
	pseudo := make([]byte, 0, 12)
	pseudo = append(pseudo, d.ip.SrcIP.To4()...)
	pseudo = append(pseudo, d.ip.DstIP.To4()...)
	pseudo = append(pseudo, 0, byte(layers.IPProtocolUDP))
	pseudo = binary.BigEndian.AppendUint16(pseudo, d.udp.Length)
	seg := append(append([]byte{}, d.udp.Contents...), d.udp.Payload...)
	if s := onesSum(onesSum(0, pseudo), seg); s != 0xffff {
		return d, fmt.Errorf("UDP checksum %#04x wrong (sum %#04x)", d.udp.Checksum, s)
	}
	if d.udp.SrcPort != ServerPort || d.udp.DstPort != ClientPort {
		return d, fmt.Errorf("UDP ports %d->%d, want 67->68", d.udp.SrcPort, d.udp.DstPort)
	}
	msg, err := dhcpv4.FromBytes(d.udp.Payload)
	if err != nil {
		return d, fmt.Errorf("DHCP payload: %w", err)
	}
	d.msg = msg
	if msg.OpCode != dhcpv4.OpcodeBootReply {
		return d, fmt.Errorf("op %v, want BOOTREPLY", msg.OpCode)
	}
	switch mt := msg.MessageType(); mt {
	case dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak:
	default:
		return d, fmt.Errorf("message type %v in a reply", mt)
	}
	if msg.ServerIdentifier() == nil {
		return d, fmt.Errorf("reply without server identifier")
	}
	return d, nil
}
