package dhcp

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzRespond feeds Respond arbitrary frames: it must never panic, fail
// only with its documented errors, and any reply must be a well-formed
// DHCP reply to the request (valid checksums, same xid and chaddr).
func FuzzRespond(f *testing.F) {
	lease := testLease()
	lease.Extra = []ExtraOpt{{"ntp-server", "10.0.0.7"}, {"bootfile-name", "pxelinux.0"}, {"bogus", "x"}}
	ack := &dhcpv4.DHCPv4{YourIPAddr: net.IPv4(10, 0, 0, 5), ClientHWAddr: clientMAC}
	ack.HWType = 1
	for _, m := range []*dhcpv4.DHCPv4{
		discover(f, clientMAC, false),
		discover(f, clientMAC, true),
		requestMsg(f, clientMAC, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 1))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5)))),
		requestMsg(f, clientMAC, dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 5))),
		requestMsg(f, clientMAC, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 9)))),
		mustMsg(dhcpv4.NewInform(clientMAC, net.IPv4(10, 0, 0, 5))),
		mustMsg(dhcpv4.NewReleaseFromACK(ack)),
		discover(f, otherMAC, false),
	} {
		f.Add(bcastFrame(m))
		f.Add(clientFrame(m, zeroIP, bcastIP, bcastMAC, 7))
	}
	f.Add([]byte{})
	lookup := func(mac net.HardwareAddr) (Lease, bool) {
		if bytes.Equal(mac, otherMAC) {
			return Lease{ServerIP: lease.ServerIP, ServerMAC: serverMAC}, false
		}
		l := lease
		l.MAC = mac
		return l, true
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		out, err := Respond(frame, lookup)
		if err != nil {
			if out != nil {
				t.Fatalf("reply together with error %v", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidLease) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if out == nil {
			return
		}
		r, err := decodeReply(out)
		if err != nil {
			t.Fatalf("reply does not parse: %v\nreply % x", err, out)
		}
		// The request parsed, so it can be compared with the reply.
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil {
			t.Fatal("replied to a frame without UDP")
		}
		req, err := dhcpv4.FromBytes(udp.Payload)
		if err != nil {
			t.Fatalf("replied to an unparseable request: %v", err)
		}
		if r.msg.TransactionID != req.TransactionID || !bytes.Equal(r.msg.ClientHWAddr, req.ClientHWAddr) {
			t.Fatalf("reply xid %v chaddr %v, request xid %v chaddr %v",
				r.msg.TransactionID, r.msg.ClientHWAddr, req.TransactionID, req.ClientHWAddr)
		}
		if !bytes.Equal(r.eth.SrcMAC, serverMAC) {
			t.Fatalf("reply from %v", r.eth.SrcMAC)
		}
	})
}
