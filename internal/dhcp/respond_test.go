package dhcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

var (
	zeroIP   = netip.IPv4Unspecified()
	bcastIP  = netip.MustParseAddr("255.255.255.255")
	bcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	xid      = dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef}
)

func mustMsg(m *dhcpv4.DHCPv4, err error) *dhcpv4.DHCPv4 {
	if err != nil {
		panic(err)
	}
	return m
}

func discover(t testing.TB, mac net.HardwareAddr, broadcast bool, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	mods = append([]dhcpv4.Modifier{dhcpv4.WithTransactionID(xid), dhcpv4.WithBroadcast(broadcast)}, mods...)
	return mustMsg(dhcpv4.NewDiscovery(mac, mods...))
}

func requestMsg(t testing.TB, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	mods = append([]dhcpv4.Modifier{
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(mac),
		dhcpv4.WithBroadcast(false),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
	}, mods...)
	return mustMsg(dhcpv4.New(mods...))
}

func bcastFrame(m *dhcpv4.DHCPv4) []byte { return clientFrame(m, zeroIP, bcastIP, bcastMAC, 0) }

// wantOpts are the options every OFFER/ACK for testLease carries.
func wantLeaseOpts(t *testing.T, m *dhcpv4.DHCPv4, inform bool) {
	t.Helper()
	l := testLease()
	checkBytes := func(name string, code dhcpv4.OptionCode, want []byte) {
		t.Helper()
		if got := m.GetOneOption(code); !bytes.Equal(got, want) {
			t.Errorf("%s (option %d) = %v, want %v", name, code.Code(), got, want)
		}
	}
	checkBytes("subnet mask", dhcpv4.OptionSubnetMask, []byte{255, 255, 255, 0})
	checkBytes("broadcast", dhcpv4.OptionBroadcastAddress, []byte{10, 0, 0, 255})
	checkBytes("router", dhcpv4.OptionRouter, []byte{10, 0, 0, 1})
	checkBytes("DNS", dhcpv4.OptionDomainNameServer, []byte{10, 0, 0, 2, 10, 0, 0, 3})
	checkBytes("MTU", dhcpv4.OptionInterfaceMTU, []byte{0x05, 0x78})
	checkBytes("server id", dhcpv4.OptionServerIdentifier, []byte{10, 0, 0, 1})
	checkBytes("hostname", dhcpv4.OptionHostName, []byte("vm-1"))
	checkBytes("domain", dhcpv4.OptionDomainName, []byte("openstack.test"))
	// RFC 3442: 10.1.0.0/16 via 10.0.0.254, then the default route.
	routes := []byte{16, 10, 1, 10, 0, 0, 254, 0, 10, 0, 0, 1}
	checkBytes("classless routes", dhcpv4.OptionClasslessStaticRoute, routes)
	checkBytes("MS classless routes", dhcpv4.GenericOptionCode(249), routes)
	if got := m.ClasslessStaticRoute(); len(got) != 2 || got[0].Dest.String() != "10.1.0.0/16" || !got[0].Router.Equal(net.IPv4(10, 0, 0, 254)) ||
		got[1].Dest.String() != "0.0.0.0/0" || !got[1].Router.Equal(net.IPv4(10, 0, 0, 1)) {
		t.Errorf("decoded classless routes = %v", got)
	}
	if inform {
		for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue} {
			if m.Options.Has(c) {
				t.Errorf("INFORM reply has option %v", c)
			}
		}
		return
	}
	if got := m.IPAddressLeaseTime(0); got != l.LeaseTime {
		t.Errorf("lease time = %v, want %v", got, l.LeaseTime)
	}
	if got := m.IPAddressRenewalTime(0); got != 30*time.Minute {
		t.Errorf("renewal time = %v, want 30m", got)
	}
	if got := m.IPAddressRebindingTime(0); got != 52*time.Minute+30*time.Second {
		t.Errorf("rebinding time = %v, want 52m30s", got)
	}
}

func TestRespond(t *testing.T) {
	lease := testLease()
	known := lookupOf(lease)
	identityOnly := leaseTable{identity: Lease{ServerIP: lease.ServerIP, ServerMAC: serverMAC}}.lookup
	serverIP := lease.ServerIP
	ack := &dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootReply, HWType: iana.HWTypeEthernet, YourIPAddr: net.IPv4(10, 0, 0, 5), ClientHWAddr: clientMAC,
		Options: dhcpv4.OptionsFromList(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 1)))}

	tests := []struct {
		name   string
		frame  []byte
		lookup LookupFunc
		// want: nil msgType means no reply.
		wantType            dhcpv4.MessageType
		wantDstMAC          net.HardwareAddr
		wantDstIP           string
		wantYI, wantCI      string
		wantLeaseOpts       bool
		wantInform          bool
		wantVLAN            uint16
		wantBroadcastFlagOn bool
		fromOther           bool // the client is otherMAC
	}{
		{
			name:     "discover gets unicast offer",
			frame:    bcastFrame(discover(t, clientMAC, false)),
			lookup:   known,
			wantType: dhcpv4.MessageTypeOffer, wantDstMAC: clientMAC, wantDstIP: "10.0.0.5",
			wantYI: "10.0.0.5", wantCI: "0.0.0.0", wantLeaseOpts: true,
		},
		{
			name:     "discover with broadcast flag gets broadcast offer",
			frame:    bcastFrame(discover(t, clientMAC, true)),
			lookup:   known,
			wantType: dhcpv4.MessageTypeOffer, wantDstMAC: bcastMAC, wantDstIP: "255.255.255.255",
			wantYI: "10.0.0.5", wantCI: "0.0.0.0", wantLeaseOpts: true, wantBroadcastFlagOn: true,
		},
		{
			name:     "discover on a VLAN gets a tagged offer",
			frame:    clientFrame(discover(t, clientMAC, false), zeroIP, bcastIP, bcastMAC, 42),
			lookup:   known,
			wantType: dhcpv4.MessageTypeOffer, wantDstMAC: clientMAC, wantDstIP: "10.0.0.5",
			wantYI: "10.0.0.5", wantCI: "0.0.0.0", wantLeaseOpts: true, wantVLAN: 42,
		},
		{
			name:   "discover from unknown MAC is ignored",
			frame:  bcastFrame(discover(t, otherMAC, false)),
			lookup: known,
		},
		{
			name: "request selecting gets ack",
			frame: bcastFrame(requestMsg(t, clientMAC,
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 1))),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5))))),
			lookup:   known,
			wantType: dhcpv4.MessageTypeAck, wantDstMAC: clientMAC, wantDstIP: "10.0.0.5",
			wantYI: "10.0.0.5", wantCI: "0.0.0.0", wantLeaseOpts: true,
		},
		{
			name: "request init-reboot gets ack",
			frame: bcastFrame(requestMsg(t, clientMAC,
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5))))),
			lookup:   known,
			wantType: dhcpv4.MessageTypeAck, wantDstMAC: clientMAC, wantDstIP: "10.0.0.5",
			wantYI: "10.0.0.5", wantCI: "0.0.0.0", wantLeaseOpts: true,
		},
		{
			name: "request renewing gets ack to ciaddr",
			frame: clientFrame(mustMsg(dhcpv4.NewRenewFromAck(ack, dhcpv4.WithTransactionID(xid))),
				lease.IP, serverIP, serverMAC, 0),
			lookup:   known,
			wantType: dhcpv4.MessageTypeAck, wantDstMAC: clientMAC, wantDstIP: "10.0.0.5",
			wantYI: "10.0.0.5", wantCI: "10.0.0.5", wantLeaseOpts: true,
		},
		{
			name: "request rebinding with broadcast flag still goes to ciaddr",
			frame: bcastFrame(requestMsg(t, clientMAC, dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 5)),
				dhcpv4.WithBroadcast(true))),
			lookup:   known,
			wantType: dhcpv4.MessageTypeAck, wantDstMAC: clientMAC, wantDstIP: "10.0.0.5",
			wantYI: "10.0.0.5", wantCI: "10.0.0.5", wantLeaseOpts: true, wantBroadcastFlagOn: true,
		},
		{
			name: "request for another address gets nak",
			frame: bcastFrame(requestMsg(t, clientMAC,
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 9))))),
			lookup:   known,
			wantType: dhcpv4.MessageTypeNak, wantDstMAC: bcastMAC, wantDstIP: "255.255.255.255",
			wantYI: "0.0.0.0", wantCI: "0.0.0.0",
		},
		{
			name: "renewing another address gets nak",
			frame: clientFrame(requestMsg(t, clientMAC, dhcpv4.WithClientIP(net.IPv4(10, 0, 0, 9))),
				netip.MustParseAddr("10.0.0.9"), serverIP, serverMAC, 0),
			lookup:   known,
			wantType: dhcpv4.MessageTypeNak, wantDstMAC: bcastMAC, wantDstIP: "255.255.255.255",
			wantYI: "0.0.0.0", wantCI: "0.0.0.0",
		},
		{
			name: "request naming another server gets nak",
			frame: bcastFrame(requestMsg(t, clientMAC,
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 77))),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5))))),
			lookup:   known,
			wantType: dhcpv4.MessageTypeNak, wantDstMAC: bcastMAC, wantDstIP: "255.255.255.255",
			wantYI: "0.0.0.0", wantCI: "0.0.0.0",
		},
		{
			name:     "request with no address at all gets nak",
			frame:    bcastFrame(requestMsg(t, clientMAC)),
			lookup:   known,
			wantType: dhcpv4.MessageTypeNak, wantDstMAC: bcastMAC, wantDstIP: "255.255.255.255",
			wantYI: "0.0.0.0", wantCI: "0.0.0.0",
		},
		{
			name: "request from a port without lease gets nak",
			frame: bcastFrame(requestMsg(t, otherMAC,
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5))))),
			lookup:   identityOnly,
			wantType: dhcpv4.MessageTypeNak, wantDstMAC: bcastMAC, wantDstIP: "255.255.255.255",
			wantYI: "0.0.0.0", wantCI: "0.0.0.0", fromOther: true,
		},
		{
			name: "request from unknown MAC without identity is ignored",
			frame: bcastFrame(requestMsg(t, otherMAC,
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5))))),
			lookup: known,
		},
		{
			name: "inform gets ack without address or lease time",
			frame: clientFrame(mustMsg(dhcpv4.NewInform(clientMAC, net.IPv4(10, 0, 0, 5),
				dhcpv4.WithTransactionID(xid))), lease.IP, bcastIP, bcastMAC, 0),
			lookup:   known,
			wantType: dhcpv4.MessageTypeAck, wantDstMAC: clientMAC, wantDstIP: "10.0.0.5",
			wantYI: "0.0.0.0", wantCI: "10.0.0.5", wantLeaseOpts: true, wantInform: true,
		},
		{
			name: "inform from unknown MAC is ignored",
			frame: clientFrame(mustMsg(dhcpv4.NewInform(otherMAC, net.IPv4(10, 0, 0, 5))),
				lease.IP, bcastIP, bcastMAC, 0),
			lookup: known,
		},
		{
			name: "release gets no reply",
			frame: clientFrame(mustMsg(dhcpv4.NewReleaseFromACK(ack)),
				lease.IP, serverIP, serverMAC, 0),
			lookup: known,
		},
		{
			name: "decline gets no reply",
			frame: bcastFrame(requestMsg(t, clientMAC, dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5))))),
			lookup: known,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Respond(tc.frame, tc.lookup)
			if err != nil {
				t.Fatalf("Respond: %v", err)
			}
			if tc.wantType == dhcpv4.MessageTypeNone {
				if out != nil {
					t.Fatalf("Respond = %d bytes, want no reply", len(out))
				}
				return
			}
			if out == nil {
				t.Fatal("Respond = no reply")
			}
			r, err := decodeReply(out)
			if err != nil {
				t.Fatalf("reply: %v", err)
			}
			m := r.msg
			if got := m.MessageType(); got != tc.wantType {
				t.Errorf("message type = %v, want %v", got, tc.wantType)
			}
			if !bytes.Equal(r.eth.SrcMAC, serverMAC) || !bytes.Equal(r.eth.DstMAC, tc.wantDstMAC) {
				t.Errorf("eth %v -> %v, want %v -> %v", r.eth.SrcMAC, r.eth.DstMAC, serverMAC, tc.wantDstMAC)
			}
			if r.ip.SrcIP.String() != "10.0.0.1" || r.ip.DstIP.String() != tc.wantDstIP {
				t.Errorf("IPv4 %v -> %v, want 10.0.0.1 -> %s", r.ip.SrcIP, r.ip.DstIP, tc.wantDstIP)
			}
			if r.ip.TTL == 0 || r.ip.Flags&0x1 != 0 || r.ip.FragOffset != 0 {
				t.Errorf("IPv4 TTL %d flags %v offset %d", r.ip.TTL, r.ip.Flags, r.ip.FragOffset)
			}
			switch {
			case tc.wantVLAN == 0 && r.vlan != nil:
				t.Errorf("reply tagged with VLAN %d", r.vlan.VLANIdentifier)
			case tc.wantVLAN != 0 && (r.vlan == nil || r.vlan.VLANIdentifier != tc.wantVLAN):
				t.Errorf("reply VLAN = %v, want %d", r.vlan, tc.wantVLAN)
			}
			if m.TransactionID != xid {
				t.Errorf("xid = %v, want %v", m.TransactionID, xid)
			}
			if m.OpCode != dhcpv4.OpcodeBootReply {
				t.Errorf("op = %v", m.OpCode)
			}
			wantCH := clientMAC
			if tc.fromOther {
				wantCH = otherMAC
			}
			if !bytes.Equal(m.ClientHWAddr, wantCH) {
				t.Errorf("chaddr = %v, want %v", m.ClientHWAddr, wantCH)
			}
			if m.YourIPAddr.String() != tc.wantYI || m.ClientIPAddr.String() != tc.wantCI {
				t.Errorf("yiaddr %v ciaddr %v, want %s %s", m.YourIPAddr, m.ClientIPAddr, tc.wantYI, tc.wantCI)
			}
			if m.IsBroadcast() != tc.wantBroadcastFlagOn {
				t.Errorf("broadcast flag = %v, want %v", m.IsBroadcast(), tc.wantBroadcastFlagOn)
			}
			if !m.ServerIdentifier().Equal(net.IPv4(10, 0, 0, 1)) {
				t.Errorf("server id = %v", m.ServerIdentifier())
			}
			if !tc.wantLeaseOpts {
				// A NAK carries no configuration (RFC 2131 table 3).
				for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
					dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionClasslessStaticRoute} {
					if m.Options.Has(c) {
						t.Errorf("NAK has option %v", c)
					}
				}
				return
			}
			if !m.ServerIPAddr.Equal(net.IPv4(10, 0, 0, 1)) {
				t.Errorf("siaddr = %v", m.ServerIPAddr)
			}
			wantLeaseOpts(t, m, tc.wantInform)
		})
	}
}

// TestClientConversation plays a client through DISCOVER, REQUEST, renewal
// and RELEASE with dhcpv4's own constructors.
func TestClientConversation(t *testing.T) {
	lease := testLease()
	lookup := lookupOf(lease)
	exchange := func(m *dhcpv4.DHCPv4, frame []byte) *dhcpv4.DHCPv4 {
		t.Helper()
		out, err := Respond(frame, lookup)
		if err != nil || out == nil {
			t.Fatalf("Respond(%v) = %v, %v", m.MessageType(), out, err)
		}
		r, err := decodeReply(out)
		if err != nil {
			t.Fatal(err)
		}
		if r.msg.TransactionID != m.TransactionID {
			t.Fatalf("xid %v, want %v", r.msg.TransactionID, m.TransactionID)
		}
		return r.msg
	}
	d := mustMsg(dhcpv4.NewDiscovery(clientMAC))
	offer := exchange(d, bcastFrame(d))
	req := mustMsg(dhcpv4.NewRequestFromOffer(offer))
	ack := exchange(req, bcastFrame(req))
	if ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(net.IPv4(10, 0, 0, 5)) {
		t.Fatalf("ack = %v", ack.Summary())
	}
	renew := mustMsg(dhcpv4.NewRenewFromAck(ack))
	ack2 := exchange(renew, clientFrame(renew, lease.IP, lease.ServerIP, serverMAC, 0))
	if ack2.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renew reply = %v", ack2.Summary())
	}
	rel := mustMsg(dhcpv4.NewReleaseFromACK(ack2))
	if out, err := Respond(clientFrame(rel, lease.IP, lease.ServerIP, serverMAC, 0), lookup); out != nil || err != nil {
		t.Fatalf("release: %v, %v", out, err)
	}
}

func replyFor(t *testing.T, l Lease) *dhcpv4.DHCPv4 {
	t.Helper()
	out, err := Respond(bcastFrame(discover(t, clientMAC, false)), lookupOf(l))
	if err != nil || out == nil {
		t.Fatalf("Respond = %v, %v", out, err)
	}
	r, err := decodeReply(out)
	if err != nil {
		t.Fatal(err)
	}
	return r.msg
}

func TestLeaseOptions(t *testing.T) {
	noRoutes := []byte(nil)
	tests := []struct {
		name       string
		edit       func(*Lease)
		wantRouter []byte
		wantRoutes []byte // options 121 and 249
		wantLease  uint32
		wantT1T2   bool
		wantAbsent []dhcpv4.OptionCode
	}{
		{
			name:       "no router, no host routes",
			edit:       func(l *Lease) { l.Router = netip.Addr{}; l.HostRoutes = nil },
			wantRoutes: noRoutes, wantLease: 3600, wantT1T2: true,
			wantAbsent: []dhcpv4.OptionCode{dhcpv4.OptionRouter},
		},
		{
			name:       "router without host routes sends no option 121",
			edit:       func(l *Lease) { l.HostRoutes = nil },
			wantRouter: []byte{10, 0, 0, 1}, wantRoutes: noRoutes, wantLease: 3600, wantT1T2: true,
		},
		{
			name:       "host routes without router get no default route",
			edit:       func(l *Lease) { l.Router = netip.Addr{} },
			wantRoutes: []byte{16, 10, 1, 10, 0, 0, 254}, wantLease: 3600, wantT1T2: true,
			wantAbsent: []dhcpv4.OptionCode{dhcpv4.OptionRouter},
		},
		{
			name: "explicit default host route is not duplicated",
			edit: func(l *Lease) {
				l.HostRoutes = []Route{
					{Dst: netip.MustParsePrefix("0.0.0.0/0"), NextHop: netip.MustParseAddr("10.0.0.9")},
					{Dst: netip.MustParsePrefix("192.0.2.128/25"), NextHop: netip.MustParseAddr("0.0.0.0")},
				}
			},
			wantRouter: []byte{10, 0, 0, 1},
			wantRoutes: []byte{0, 10, 0, 0, 9, 25, 192, 0, 2, 128, 0, 0, 0, 0}, wantLease: 3600, wantT1T2: true,
		},
		{
			name:       "zero lease time means one day",
			edit:       func(l *Lease) { l.LeaseTime = 0; l.HostRoutes = nil },
			wantRouter: []byte{10, 0, 0, 1}, wantLease: 86400, wantT1T2: true,
		},
		{
			name:       "infinite lease has no renewal times",
			edit:       func(l *Lease) { l.LeaseTime = InfiniteLease; l.HostRoutes = nil },
			wantRouter: []byte{10, 0, 0, 1}, wantLease: 0xffffffff,
		},
		{
			name: "optional fields omitted when empty",
			edit: func(l *Lease) {
				l.DNS, l.MTU, l.DomainName, l.Hostname, l.HostRoutes = nil, 0, "", "", nil
			},
			wantRouter: []byte{10, 0, 0, 1}, wantLease: 3600, wantT1T2: true,
			wantAbsent: []dhcpv4.OptionCode{dhcpv4.OptionDomainNameServer, dhcpv4.OptionInterfaceMTU,
				dhcpv4.OptionDomainName, dhcpv4.OptionHostName},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			tc.edit(&l)
			m := replyFor(t, l)
			if got := m.GetOneOption(dhcpv4.OptionRouter); !bytes.Equal(got, tc.wantRouter) {
				t.Errorf("router = %v, want %v", got, tc.wantRouter)
			}
			for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionClasslessStaticRoute, dhcpv4.GenericOptionCode(249)} {
				if got := m.GetOneOption(c); !bytes.Equal(got, tc.wantRoutes) {
					t.Errorf("option %d = %v, want %v", c.Code(), got, tc.wantRoutes)
				}
			}
			if got := binary.BigEndian.Uint32(append(m.GetOneOption(dhcpv4.OptionIPAddressLeaseTime), 0, 0, 0, 0)); got != tc.wantLease {
				t.Errorf("lease time = %d, want %d", got, tc.wantLease)
			}
			for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue} {
				if m.Options.Has(c) != tc.wantT1T2 {
					t.Errorf("option %v present = %v, want %v", c, m.Options.Has(c), tc.wantT1T2)
				}
			}
			for _, c := range tc.wantAbsent {
				if m.Options.Has(c) {
					t.Errorf("option %v present, want absent", c)
				}
			}
		})
	}
}

func TestExtraOpts(t *testing.T) {
	tests := []struct {
		name  string
		extra []ExtraOpt
		check func(t *testing.T, m *dhcpv4.DHCPv4)
	}{
		{
			name:  "ntp, tftp, bootfile and next server",
			extra: []ExtraOpt{{"ntp-server", "10.0.0.7, 10.0.0.8"}, {"tftp-server", "tftp.test"}, {"bootfile-name", "pxelinux.0"}, {"server-ip-address", "10.0.0.10"}},
			check: func(t *testing.T, m *dhcpv4.DHCPv4) {
				wantOpt(t, m, 42, []byte{10, 0, 0, 7, 10, 0, 0, 8})
				wantOpt(t, m, 66, []byte("tftp.test"))
				wantOpt(t, m, 67, []byte("pxelinux.0"))
				if m.BootFileName != "pxelinux.0" || !m.ServerIPAddr.Equal(net.IPv4(10, 0, 0, 10)) {
					t.Errorf("file %q siaddr %v", m.BootFileName, m.ServerIPAddr)
				}
			},
		},
		{
			name:  "numeric codes, known and unknown",
			extra: []ExtraOpt{{"66", "10.0.0.9"}, {"150", "10.0.0.9"}, {"option:200", "10.0.0.1,10.0.0.2"}, {"201", "hello"}},
			check: func(t *testing.T, m *dhcpv4.DHCPv4) {
				wantOpt(t, m, 66, []byte("10.0.0.9")) // tftp-server is a name
				wantOpt(t, m, 150, []byte{10, 0, 0, 9})
				wantOpt(t, m, 200, []byte{10, 0, 0, 1, 10, 0, 0, 2})
				wantOpt(t, m, 201, []byte("hello"))
			},
		},
		{
			name:  "overrides of the lease's options",
			extra: []ExtraOpt{{"dns-server", "10.0.0.53"}, {"mtu", "9000"}, {"domain-name", "other.test"}, {"Router", "10.0.0.254"}},
			check: func(t *testing.T, m *dhcpv4.DHCPv4) {
				wantOpt(t, m, 6, []byte{10, 0, 0, 53})
				wantOpt(t, m, 26, []byte{0x23, 0x28})
				wantOpt(t, m, 15, []byte("other.test"))
				wantOpt(t, m, 3, []byte{10, 0, 0, 254})
				// The default route of option 121 follows the router.
				wantOpt(t, m, 121, []byte{16, 10, 1, 10, 0, 0, 254, 0, 10, 0, 0, 254})
			},
		},
		{
			name:  "empty router removes gateway and default route",
			extra: []ExtraOpt{{"router", ""}},
			check: func(t *testing.T, m *dhcpv4.DHCPv4) {
				wantOpt(t, m, 3, nil)
				wantOpt(t, m, 121, []byte{16, 10, 1, 10, 0, 0, 254})
				wantOpt(t, m, 249, []byte{16, 10, 1, 10, 0, 0, 254})
			},
		},
		{
			name:  "explicit classless routes, domain search, integers",
			extra: []ExtraOpt{{"classless-static-route", "172.16.0.0/12,10.0.0.1,0.0.0.0/0,10.0.0.1"}, {"domain-search", "a.test,b.test."}, {"default-ttl", "32"}, {"time-offset", "-3600"}, {"T1", "100"}},
			check: func(t *testing.T, m *dhcpv4.DHCPv4) {
				routes := []byte{12, 172, 16, 10, 0, 0, 1, 0, 10, 0, 0, 1}
				wantOpt(t, m, 121, routes)
				wantOpt(t, m, 249, routes)
				wantOpt(t, m, 119, []byte("\x01a\x04test\x00\x01b\x04test\x00"))
				wantOpt(t, m, 23, []byte{32})
				wantOpt(t, m, 2, []byte{0xff, 0xff, 0xf1, 0xf0})
				wantOpt(t, m, 58, []byte{0, 0, 0, 100})
			},
		},
		{
			name:  "invalid options are left out, valid ones kept",
			extra: []ExtraOpt{{"no-such-option", "1"}, {"mtu", "big"}, {"ntp-server", "not-an-ip"}, {"53", "1"}, {"server-identifier", "10.9.9.9"}, {"256", "x"}, {"log-server", "10.0.0.4"}},
			check: func(t *testing.T, m *dhcpv4.DHCPv4) {
				wantOpt(t, m, 26, []byte{0x05, 0x78})
				wantOpt(t, m, 42, nil)
				wantOpt(t, m, 53, []byte{2})
				wantOpt(t, m, 54, []byte{10, 0, 0, 1})
				wantOpt(t, m, 7, []byte{10, 0, 0, 4})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLease()
			l.Extra = tc.extra
			tc.check(t, replyFor(t, l))
		})
	}
}

func wantOpt(t *testing.T, m *dhcpv4.DHCPv4, code uint8, want []byte) {
	t.Helper()
	if got := m.GetOneOption(dhcpv4.GenericOptionCode(code)); !bytes.Equal(got, want) {
		t.Errorf("option %d = %v, want %v", code, got, want)
	}
}

func TestValidateExtraOpts(t *testing.T) {
	good := []ExtraOpt{{"router", "10.0.0.1"}, {"ntp-server", "10.0.0.1,10.0.0.2"}, {"66", "tftp"}, {"option:mtu", "1500"}, {"t2", "10"}, {"dns-server", ""}}
	if err := ValidateExtraOpts(good); err != nil {
		t.Errorf("ValidateExtraOpts(good) = %v", err)
	}
	for _, o := range []ExtraOpt{
		{"bogus", "1"}, {"mtu", "70000"}, {"router", "10.0.0.1,fe80::1"}, {"53", "1"}, {"0", "1"},
		{"255", "1"}, {"300", "1"}, {"ip-forward-enable", "maybe"}, {"domain-search", "a..b"},
		{"classless-static-route", "10.0.0.0/8"}, {"server-ip-address", "x"}, {"hostname", string(make([]byte, 300))},
	} {
		err := ValidateExtraOpts([]ExtraOpt{o})
		if !errors.Is(err, ErrBadExtraOpt) {
			t.Errorf("ValidateExtraOpts(%q) = %v, want ErrBadExtraOpt", o, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	good := bcastFrame(discover(t, clientMAC, false))
	lookup := lookupOf(testLease())
	edit := func(f func(m *dhcpv4.DHCPv4)) []byte {
		m := discover(t, clientMAC, false)
		f(m)
		return bcastFrame(m)
	}
	patch := func(off int, b ...byte) []byte {
		out := slices.Clone(good)
		copy(out[off:], b)
		return out
	}
	const ipOff, udpOff, dhcpOff = 14, 34, 42
	tests := []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"short ethernet", good[:10]},
		{"ARP", patch(12, 0x08, 0x06)},
		{"truncated IPv4", good[:ipOff+10]},
		{"truncated UDP payload", good[:len(good)-40]},
		{"TCP", patch(ipOff+9, 6)},
		{"fragment", patch(ipOff+6, 0x20)},
		{"to client port", patch(udpOff+2, 0, 68)},
		{"bad magic cookie", patch(dhcpOff+236, 1, 2, 3, 4)},
		{"BOOTREPLY", patch(dhcpOff, 2)},
		{"not ethernet hardware", patch(dhcpOff+1, 6)},
		{"short chaddr", patch(dhcpOff+2, 5)},
		{"no message type", edit(func(m *dhcpv4.DHCPv4) { m.Options.Del(dhcpv4.OptionDHCPMessageType) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Respond(tc.frame, lookup)
			if !errors.Is(err, ErrMalformed) || out != nil {
				t.Errorf("Respond = %d bytes, %v; want ErrMalformed", len(out), err)
			}
		})
	}
	// A spoofed chaddr: the frame comes from one MAC and asks for another's lease.
	m := discover(t, clientMAC, false)
	f := clientFrame(m, zeroIP, bcastIP, bcastMAC, 0)
	copy(f[6:12], otherMAC)
	if _, err := Respond(f, lookup); !errors.Is(err, ErrMalformed) {
		t.Errorf("spoofed chaddr: %v, want ErrMalformed", err)
	}
}

func TestInvalidLease(t *testing.T) {
	for name, edit := range map[string]func(*Lease){
		"IPv6 address":  func(l *Lease) { l.IP = netip.MustParseAddr("fd00::5") },
		"IP outside":    func(l *Lease) { l.IP = netip.MustParseAddr("10.9.0.5") },
		"no prefix":     func(l *Lease) { l.Prefix = netip.Prefix{} },
		"no server IP":  func(l *Lease) { l.ServerIP = netip.Addr{} },
		"no server MAC": func(l *Lease) { l.ServerMAC = nil },
		"IPv6 router":   func(l *Lease) { l.Router = netip.MustParseAddr("fe80::1") },
		"IPv6 DNS":      func(l *Lease) { l.DNS = []netip.Addr{netip.MustParseAddr("fd00::53")} },
		"tiny MTU":      func(l *Lease) { l.MTU = 10 },
		"IPv6 host route": func(l *Lease) {
			l.HostRoutes = []Route{{Dst: netip.MustParsePrefix("fd00::/8"), NextHop: netip.MustParseAddr("fd00::1")}}
		},
		"host route no gw": func(l *Lease) { l.HostRoutes = []Route{{Dst: netip.MustParsePrefix("10.1.0.0/16")}} },
	} {
		t.Run(name, func(t *testing.T) {
			l := testLease()
			edit(&l)
			out, err := Respond(bcastFrame(discover(t, clientMAC, false)), lookupOf(l))
			if !errors.Is(err, ErrInvalidLease) || out != nil {
				t.Errorf("Respond = %d bytes, %v; want ErrInvalidLease", len(out), err)
			}
		})
	}
}

// TestChecksumCheckerCatchesCorruption shows decodeReply's independent
// checksum verification can fail.
func TestChecksumCheckerCatchesCorruption(t *testing.T) {
	out, err := Respond(bcastFrame(discover(t, clientMAC, false)), lookupOf(testLease()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeReply(out); err != nil {
		t.Fatalf("good reply: %v", err)
	}
	for name, off := range map[string]int{"IPv4 TTL": 14 + 8, "DHCP payload": len(out) - 1, "UDP port": 34 + 1} {
		bad := slices.Clone(out)
		bad[off] ^= 0x01
		if _, err := decodeReply(bad); err == nil {
			t.Errorf("corrupt %s: decodeReply accepted it", name)
		}
	}
}

func TestReplyDetails(t *testing.T) {
	lease := testLease()
	t.Run("client identifier is echoed (RFC 6842)", func(t *testing.T) {
		id := []byte{1, 0xfa, 0x16, 0x3e, 0x11, 0x22, 0x33}
		m := discover(t, clientMAC, false, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(id)))
		out, err := Respond(bcastFrame(m), lookupOf(lease))
		if err != nil {
			t.Fatal(err)
		}
		r, err := decodeReply(out)
		if err != nil {
			t.Fatal(err)
		}
		wantOpt(t, r.msg, 61, id)
	})
	t.Run("inform reply drops lease times given as extra options", func(t *testing.T) {
		l := lease
		l.Extra = []ExtraOpt{{"lease-time", "60"}, {"T1", "30"}, {"T2", "50"}, {"ntp-server", "10.0.0.7"}}
		inform := mustMsg(dhcpv4.NewInform(clientMAC, net.IPv4(10, 0, 0, 5)))
		out, err := Respond(clientFrame(inform, lease.IP, bcastIP, bcastMAC, 0), lookupOf(l))
		if err != nil {
			t.Fatal(err)
		}
		r, err := decodeReply(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []uint8{51, 58, 59} {
			wantOpt(t, r.msg, c, nil)
		}
		wantOpt(t, r.msg, 42, []byte{10, 0, 0, 7})
	})
	t.Run("request with an invalid lease fails", func(t *testing.T) {
		l := lease
		l.ServerMAC = nil
		m := requestMsg(t, clientMAC, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 0, 5))))
		if out, err := Respond(bcastFrame(m), lookupOf(l)); !errors.Is(err, ErrInvalidLease) || out != nil {
			t.Errorf("Respond = %d bytes, %v; want ErrInvalidLease", len(out), err)
		}
	})
	t.Run("stacked VLAN tags are refused", func(t *testing.T) {
		f := clientFrame(discover(t, clientMAC, false), zeroIP, bcastIP, bcastMAC, 5)
		// Insert a second 802.1Q tag after the first.
		f = slices.Insert(f, 16, 0x81, 0x00, 0x00, 0x06)
		if out, err := Respond(f, lookupOf(lease)); !errors.Is(err, ErrMalformed) || out != nil || !strings.Contains(err.Error(), "stacked") {
			t.Errorf("Respond = %d bytes, %v; want ErrMalformed for stacked tags", len(out), err)
		}
	})
}
