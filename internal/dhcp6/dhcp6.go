// Package dhcp6 is the distributed DHCPv6 responder that a Wyvern agent
// runs for the VMs on its own chassis, in place of dnsmasq.
//
// As for DHCPv4 (package dhcp), the pipeline sends DHCPv6 client frames from
// local ports to the agent as packet-ins and the agent answers with a
// packet-out built by [Respond]. Respond is pure: it takes the received
// Ethernet frame and a lookup from the client's MAC to the port's [Lease],
// and returns the complete reply frame (Ethernet, IPv6 and UDP headers with
// correct checksums) or nil when the message needs no answer. It does no
// I/O, keeps no state and never panics.
//
// Neutron's two DHCPv6 modes:
//   - dhcpv6-stateful: the lease has an Address, the port's fixed IPv6
//     address; SOLICIT gets an ADVERTISE (a REPLY with rapid commit),
//     REQUEST, RENEW and REBIND a REPLY with it in the client's IA_NA,
//     CONFIRM a REPLY saying whether the client's address is on link.
//   - dhcpv6-stateless: no Address; INFORMATION-REQUEST gets the options
//     (DNS servers, domain search list), and a SOLICIT NoAddrsAvail.
//
// The responder is authoritative: a REQUEST, RENEW or RELEASE naming
// another server is ignored, and an IA_NA is only ever given the port's
// own address. Messages are encoded and decoded with
// github.com/insomniacslk/dhcp/dhcpv6, frames with gopacket.
package dhcp6

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// UDP ports of DHCPv6 (RFC 8415).
const (
	ClientPort = 546
	ServerPort = 547
)

// ErrMalformed is wrapped by the errors of frames that are not a DHCPv6
// client message.
var ErrMalformed = errors.New("dhcp6: malformed client message")

// Lease is what the responder knows of a port.
type Lease struct {
	// ServerMAC and ServerIP (a link-local address) are the server's
	// identity on the link; ServerMAC also makes its DUID.
	ServerMAC net.HardwareAddr
	ServerIP  netip.Addr
	// Address is the port's fixed address on a dhcpv6-stateful subnet;
	// invalid on a dhcpv6-stateless one.
	Address netip.Addr
	// Prefix is the address's subnet (what CONFIRM checks).
	Prefix netip.Prefix
	// Preferred and Valid lifetimes of Address.
	Preferred, Valid time.Duration
	DNS              []netip.Addr
	DomainSearch     []string
}

// LookupFunc returns the lease of the port whose MAC is the client's.
type LookupFunc func(mac net.HardwareAddr) (Lease, bool)

// Respond answers one DHCPv6 client frame, as received in a packet-in. It
// returns the reply frame to the client, or nil and no error when the
// message needs no answer.
func Respond(frame []byte, lookup LookupFunc) ([]byte, error) {
	var (
		eth layers.Ethernet
		ip6 layers.IPv6
		udp layers.UDP
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip6, &udp)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 3)
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(decoded) != 3 || udp.DstPort != ServerPort || len(eth.SrcMAC) != 6 {
		return nil, fmt.Errorf("%w: not to the DHCPv6 server port", ErrMalformed)
	}
	src, ok := netip.AddrFromSlice(ip6.SrcIP)
	if !ok || !src.Is6() || src.IsUnspecified() || src.IsMulticast() {
		return nil, fmt.Errorf("%w: source %v", ErrMalformed, ip6.SrcIP)
	}
	msg, err := dhcpv6.MessageFromBytes(udp.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	lease, ok := lookup(eth.SrcMAC)
	if !ok || len(lease.ServerMAC) != 6 || !lease.ServerIP.Is6() {
		return nil, nil
	}
	reply, err := answer(msg, lease)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if reply == nil {
		return nil, nil
	}
	return encode(lease, eth.SrcMAC, src, udp.SrcPort, reply.ToBytes())
}

// ServerDUID is the server's DUID: DUID-LL of its MAC.
func ServerDUID(mac net.HardwareAddr) dhcpv6.DUID {
	return &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: mac}
}

// answer builds the reply message; nil: none.
func answer(msg *dhcpv6.Message, l Lease) (*dhcpv6.Message, error) {
	if msg.Options.ClientID() == nil {
		return nil, errors.New("no client id")
	}
	sid := ServerDUID(l.ServerMAC)
	ours := func() bool {
		s := msg.Options.ServerID()
		return s != nil && s.Equal(sid)
	}
	opts := []dhcpv6.Modifier{dhcpv6.WithServerID(sid)}
	if len(l.DNS) > 0 {
		ips := make([]net.IP, len(l.DNS))
		for i, a := range l.DNS {
			ips[i] = a.AsSlice()
		}
		opts = append(opts, dhcpv6.WithDNS(ips...))
	}
	if len(l.DomainSearch) > 0 {
		opts = append(opts, dhcpv6.WithDomainSearchList(l.DomainSearch...))
	}
	stateful := l.Address.Is6()
	switch msg.Type() {
	case dhcpv6.MessageTypeSolicit:
		if msg.Options.ServerID() != nil {
			return nil, nil // RFC 8415 §16.2: a SOLICIT names no server
		}
		if !stateful {
			return dhcpv6.NewAdvertiseFromSolicit(msg, append(opts, status(iana.StatusNoAddrsAvail, "stateless subnet"))...)
		}
		opts = append(opts, l.ianas(msg)...)
		if msg.GetOneOption(dhcpv6.OptionRapidCommit) != nil {
			return dhcpv6.NewReplyFromMessage(msg, opts...)
		}
		return dhcpv6.NewAdvertiseFromSolicit(msg, opts...)
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew:
		if !ours() {
			return nil, nil
		}
		if !stateful {
			return dhcpv6.NewReplyFromMessage(msg, append(opts, status(iana.StatusNoAddrsAvail, "stateless subnet"))...)
		}
		return dhcpv6.NewReplyFromMessage(msg, append(opts, l.ianas(msg)...)...)
	case dhcpv6.MessageTypeRebind:
		if msg.Options.ServerID() != nil || !stateful {
			return nil, nil
		}
		return dhcpv6.NewReplyFromMessage(msg, append(opts, l.ianas(msg)...)...)
	case dhcpv6.MessageTypeConfirm:
		code, text := iana.StatusSuccess, "on link"
		for _, ia := range msg.Options.IANA() {
			for _, a := range ia.Options.Addresses() {
				addr, ok := netip.AddrFromSlice(a.IPv6Addr)
				if !ok || !l.Prefix.Contains(addr) {
					code, text = iana.StatusNotOnLink, "not on link"
				}
			}
		}
		return dhcpv6.NewReplyFromMessage(msg, append(opts[:1], status(code, text))...)
	case dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline:
		if !ours() {
			return nil, nil
		}
		rep, err := dhcpv6.NewReplyFromMessage(releaseAsRequest(msg), opts[0], status(iana.StatusSuccess, "done"))
		return rep, err
	case dhcpv6.MessageTypeInformationRequest:
		if s := msg.Options.ServerID(); s != nil && !s.Equal(sid) {
			return nil, nil
		}
		return dhcpv6.NewReplyFromMessage(msg, opts...)
	}
	return nil, nil
}

// releaseAsRequest lets NewReplyFromMessage answer a DECLINE as a
// RELEASE (both get a plain REPLY).
func releaseAsRequest(m *dhcpv6.Message) *dhcpv6.Message {
	c := *m
	c.MessageType = dhcpv6.MessageTypeRelease
	return &c
}

func status(code iana.StatusCode, text string) dhcpv6.Modifier {
	return dhcpv6.WithOption(&dhcpv6.OptStatusCode{StatusCode: code, StatusMessage: text})
}

// ianas answers each IA_NA of the client with the port's address (T1 and
// T2 at half and 80 % of the preferred lifetime).
func (l Lease) ianas(msg *dhcpv6.Message) []dhcpv6.Modifier {
	var out []dhcpv6.Modifier
	for _, ia := range msg.Options.IANA() {
		out = append(out, dhcpv6.WithOption(&dhcpv6.OptIANA{
			IaId: ia.IaId, T1: l.Preferred / 2, T2: l.Preferred * 4 / 5,
			Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{&dhcpv6.OptIAAddress{
				IPv6Addr: l.Address.AsSlice(), PreferredLifetime: l.Preferred, ValidLifetime: l.Valid,
			}}},
		}))
	}
	return out
}

// encode wraps a reply in UDP, IPv6 and Ethernet towards the client.
func encode(l Lease, dstMAC net.HardwareAddr, dst netip.Addr, dstPort layers.UDPPort, payload []byte) ([]byte, error) {
	eth := &layers.Ethernet{SrcMAC: l.ServerMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolUDP,
		SrcIP: l.ServerIP.AsSlice(), DstIP: dst.AsSlice()}
	udp := &layers.UDP{SrcPort: ServerPort, DstPort: dstPort}
	if err := udp.SetNetworkLayerForChecksum(ip6); err != nil {
		return nil, fmt.Errorf("dhcp6: %w", err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip6, udp, gopacket.Payload(payload)); err != nil {
		return nil, fmt.Errorf("dhcp6: encode: %w", err)
	}
	return buf.Bytes(), nil
}
