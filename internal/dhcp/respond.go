package dhcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// UDP ports of DHCPv4 (RFC 2131).
const (
	ServerPort = 67
	ClientPort = 68
)

// LookupFunc returns the lease of the port whose MAC is the client's.
//
// When there is none it returns false; it may still fill the returned
// Lease's ServerIP and ServerMAC (the network's DHCP identity), and then a
// REQUEST is refused with a NAK instead of going unanswered.
type LookupFunc func(mac net.HardwareAddr) (Lease, bool)

// Respond answers one DHCPv4 client frame, as received in a packet-in. It
// returns the complete reply Ethernet frame, or nil (and no error) when the
// message needs no answer: a RELEASE or DECLINE, a DISCOVER or INFORM from a
// client without a lease, a REQUEST from one when no server identity is
// known. Errors wrap ErrMalformed or ErrInvalidLease.
//
// The client is looked up by its hardware address (chaddr), which must
// equal the frame's source MAC. DISCOVER gets an OFFER and INFORM an ACK
// without address or lease times. REQUEST gets an ACK when the address it
// asks for (requested address option, else ciaddr) is the lease's and any
// server identifier it names is ServerIP, else a NAK. OFFER and ACK go to
// the client's MAC and offered (or current) address, or to broadcast if the
// client set the broadcast flag and has no address yet; NAKs are broadcast.
// A VLAN tag on the request is repeated on the reply.
func Respond(frame []byte, lookup LookupFunc) ([]byte, error) {
	in, err := parseFrame(frame)
	if err != nil {
		return nil, err
	}
	lease, found := lookup(in.msg.ClientHWAddr)
	reply, err := answer(in.msg, lease, found)
	if err != nil || reply == nil {
		return nil, err
	}
	return buildFrame(in, reply, lease)
}

// request is a parsed client frame.
type request struct {
	vlan *layers.Dot1Q // nil when untagged
	msg  *dhcpv4.DHCPv4
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func parseFrame(frame []byte) (request, error) {
	var (
		eth   layers.Ethernet
		dot1q layers.Dot1Q
		ip4   layers.IPv4
		udp   layers.UDP
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &udp)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		return request{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var in request
	var haveUDP bool
	for _, t := range decoded {
		switch t {
		case layers.LayerTypeDot1Q:
			if in.vlan != nil {
				return request{}, malformed("stacked VLAN tags")
			}
			v := dot1q
			in.vlan = &v
		case layers.LayerTypeUDP:
			haveUDP = true
		}
	}
	switch {
	case !haveUDP:
		return request{}, malformed("not an IPv4 UDP frame")
	case parser.Truncated:
		return request{}, malformed("truncated frame")
	case ip4.Flags&layers.IPv4MoreFragments != 0 || ip4.FragOffset != 0:
		return request{}, malformed("IPv4 fragment")
	case udp.DstPort != ServerPort:
		return request{}, malformed("UDP destination port %d, want %d", udp.DstPort, ServerPort)
	}
	msg, err := dhcpv4.FromBytes(udp.Payload)
	if err != nil {
		return request{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch {
	case msg.OpCode != dhcpv4.OpcodeBootRequest:
		return request{}, malformed("op %v is not BOOTREQUEST", msg.OpCode)
	case msg.HWType != iana.HWTypeEthernet || len(msg.ClientHWAddr) != 6:
		return request{}, malformed("hardware type %v length %d is not Ethernet", msg.HWType, len(msg.ClientHWAddr))
	case !bytes.Equal(msg.ClientHWAddr, eth.SrcMAC):
		return request{}, malformed("chaddr %v differs from source MAC %v", msg.ClientHWAddr, eth.SrcMAC)
	case msg.MessageType() == dhcpv4.MessageTypeNone:
		return request{}, malformed("no DHCP message type (BOOTP is not served)")
	}
	in.msg = msg
	return in, nil
}

// answer builds the reply message, or nil when none is due.
func answer(req *dhcpv4.DHCPv4, lease Lease, found bool) (*dhcpv4.DHCPv4, error) {
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		if !found {
			return nil, nil
		}
		return reply(req, lease, dhcpv4.MessageTypeOffer)
	case dhcpv4.MessageTypeRequest:
		if !found {
			if !lease.ServerIP.Is4() || len(lease.ServerMAC) != 6 {
				return nil, nil
			}
			return nak(req, lease, "no address for this client"), nil
		}
		if err := lease.validate(); err != nil {
			return nil, err
		}
		if sid := req.ServerIdentifier(); sid != nil && addr(sid) != lease.ServerIP {
			return nak(req, lease, "server identifier is not ours"), nil
		}
		want := addr(req.RequestedIPAddress())
		if !isSet(req.RequestedIPAddress()) {
			want = addr(req.ClientIPAddr)
		}
		if want != lease.IP {
			return nak(req, lease, "requested address is not the client's"), nil
		}
		return reply(req, lease, dhcpv4.MessageTypeAck)
	case dhcpv4.MessageTypeInform:
		if !found {
			return nil, nil
		}
		return reply(req, lease, dhcpv4.MessageTypeAck)
	default: // RELEASE, DECLINE, and server messages sent by a client
		return nil, nil
	}
}

// addr converts a net.IP from a message to an IPv4 netip.Addr (invalid if
// absent or malformed).
func addr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return netip.Addr{}
	}
	return a
}

// isSet reports whether a message's address field holds an address.
func isSet(ip net.IP) bool {
	a := addr(ip)
	return a.IsValid() && !a.IsUnspecified()
}

// replyTo starts a reply to req as RFC 2131 table 3 says.
func replyTo(req *dhcpv4.DHCPv4, t dhcpv4.MessageType, serverIP netip.Addr) *dhcpv4.DHCPv4 {
	r := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr,
		ClientHWAddr:  req.ClientHWAddr,
		Options:       dhcpv4.Options{},
	}
	r.UpdateOption(dhcpv4.OptMessageType(t))
	r.UpdateOption(dhcpv4.OptServerIdentifier(serverIP.AsSlice()))
	// RFC 6842: echo the client identifier.
	if id := req.GetOneOption(dhcpv4.OptionClientIdentifier); id != nil {
		r.UpdateOption(dhcpv4.OptClientIdentifier(id))
	}
	return r
}

func nak(req *dhcpv4.DHCPv4, lease Lease, why string) *dhcpv4.DHCPv4 {
	r := replyTo(req, dhcpv4.MessageTypeNak, lease.ServerIP)
	r.UpdateOption(dhcpv4.OptMessage(why))
	return r
}

// reply builds an OFFER or ACK carrying the lease.
func reply(req *dhcpv4.DHCPv4, lease Lease, t dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	if err := lease.validate(); err != nil {
		return nil, err
	}
	inform := req.MessageType() == dhcpv4.MessageTypeInform
	r := replyTo(req, t, lease.ServerIP)
	r.ServerIPAddr = lease.ServerIP.AsSlice()
	if inform || t == dhcpv4.MessageTypeAck {
		r.ClientIPAddr = req.ClientIPAddr
	}
	if !inform {
		r.YourIPAddr = lease.IP.AsSlice()
	}
	setLeaseOptions(r, lease, inform)
	return r, nil
}

// setLeaseOptions adds the lease's options, then the extra options over
// them, then the classless routes.
func setLeaseOptions(r *dhcpv4.DHCPv4, lease Lease, inform bool) {
	o := r.Options
	bits := lease.Prefix.Bits()
	o.Update(dhcpv4.OptSubnetMask(net.CIDRMask(bits, 32)))
	o.Update(dhcpv4.OptBroadcastAddress(broadcastAddr(lease.Prefix).AsSlice()))
	if lease.Router.IsValid() {
		o.Update(dhcpv4.OptRouter(lease.Router.AsSlice()))
	}
	if len(lease.DNS) > 0 {
		ips := make([]net.IP, 0, len(lease.DNS))
		for _, d := range lease.DNS {
			ips = append(ips, d.AsSlice())
		}
		o.Update(dhcpv4.OptDNS(ips...))
	}
	if lease.MTU > 0 {
		o.Update(dhcpv4.OptGeneric(dhcpv4.OptionInterfaceMTU, binary.BigEndian.AppendUint16(nil, uint16(lease.MTU))))
	}
	if lease.Hostname != "" {
		o.Update(dhcpv4.OptHostName(lease.Hostname))
	}
	if lease.DomainName != "" {
		o.Update(dhcpv4.OptDomainName(lease.DomainName))
	}
	switch {
	case inform:
	case lease.LeaseTime < 0:
		o.Update(dhcpv4.OptIPAddressLeaseTime(0xffffffff * time.Second))
	default:
		lt := lease.LeaseTime
		if lt == 0 {
			lt = DefaultLeaseTime
		}
		lt = lt.Truncate(time.Second)
		if lt < time.Second {
			lt = time.Second
		}
		o.Update(dhcpv4.OptIPAddressLeaseTime(lt))
		o.Update(dhcpv4.OptRenewTimeValue((lt / 2).Truncate(time.Second)))
		o.Update(dhcpv4.OptRebindingTimeValue((lt * 7 / 8).Truncate(time.Second)))
	}

	router := lease.Router
	for _, x := range lease.Extra {
		e, err := encodeExtraOpt(x)
		if err != nil {
			continue // ValidateExtraOpts reports these
		}
		switch {
		case e.code == siaddrCode:
			r.ServerIPAddr = e.siaddr.AsSlice()
			continue
		case inform && (e.code == 51 || e.code == 58 || e.code == 59):
			continue
		case e.code == dhcpv4.OptionRouter.Code():
			router = netip.Addr{}
			if len(e.value) >= 4 {
				router = netip.AddrFrom4([4]byte(e.value[:4]))
			}
		case e.code == dhcpv4.OptionBootfileName.Code() && len(e.value) < 128:
			r.BootFileName = string(e.value)
		}
		if len(e.value) == 0 {
			o.Del(dhcpv4.GenericOptionCode(e.code))
		} else {
			o.Update(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(e.code), e.value))
		}
	}

	const msRoutes = dhcpv4.GenericOptionCode(249)
	if len(lease.HostRoutes) > 0 && !o.Has(dhcpv4.OptionClasslessStaticRoute) {
		routes := lease.HostRoutes
		if router.IsValid() && !hasDefault(routes) {
			routes = append(routes[:len(routes):len(routes)], Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), NextHop: router})
		}
		o.Update(dhcpv4.OptGeneric(dhcpv4.OptionClasslessStaticRoute, encodeRoutes(routes)))
	}
	if v := o.Get(dhcpv4.OptionClasslessStaticRoute); v != nil && !o.Has(msRoutes) {
		o.Update(dhcpv4.OptGeneric(msRoutes, v))
	}
}

func hasDefault(routes []Route) bool {
	for _, r := range routes {
		if r.Dst.Bits() == 0 {
			return true
		}
	}
	return false
}

func broadcastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := ^binary.BigEndian.Uint32(net.CIDRMask(p.Bits(), 32))
	binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(a[:])|host)
	return netip.AddrFrom4(a)
}

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	broadcastIP  = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// buildFrame addresses the reply (RFC 2131 section 4.1, with no relay) and
// frames it.
func buildFrame(in request, r *dhcpv4.DHCPv4, lease Lease) ([]byte, error) {
	req := in.msg
	dstMAC, dstIP := req.ClientHWAddr, addr(r.YourIPAddr)
	switch {
	case r.MessageType() == dhcpv4.MessageTypeNak:
		dstMAC, dstIP = broadcastMAC, broadcastIP
	case isSet(req.ClientIPAddr):
		dstIP = addr(req.ClientIPAddr)
	case req.IsBroadcast() || dstIP.IsUnspecified():
		dstMAC, dstIP = broadcastMAC, broadcastIP
	}

	eth := &layers.Ethernet{
		SrcMAC:       lease.ServerMAC,
		DstMAC:       dstMAC,
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version:  4,
		TTL:      64,
		Protocol: layers.IPProtocolUDP,
		SrcIP:    lease.ServerIP.AsSlice(),
		DstIP:    dstIP.AsSlice(),
	}
	udp := &layers.UDP{SrcPort: ServerPort, DstPort: ClientPort}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, fmt.Errorf("dhcp: reply checksum: %w", err)
	}
	stack := []gopacket.SerializableLayer{eth}
	if in.vlan != nil {
		eth.EthernetType = layers.EthernetTypeDot1Q
		stack = append(stack, &layers.Dot1Q{
			Priority:       in.vlan.Priority,
			DropEligible:   in.vlan.DropEligible,
			VLANIdentifier: in.vlan.VLANIdentifier,
			Type:           layers.EthernetTypeIPv4,
		})
	}
	stack = append(stack, ip, udp, gopacket.Payload(r.ToBytes()))
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, stack...); err != nil {
		return nil, fmt.Errorf("dhcp: serialize reply: %w", err)
	}
	return buf.Bytes(), nil
}
