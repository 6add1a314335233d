package arp

import (
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	mac1 = net.HardwareAddr{0xfa, 0x16, 0x3e, 0xee, 0, 0x10}
	mac2 = net.HardwareAddr{0x02, 0, 0xcb, 0, 0x71, 1}
	ip1  = netip.MustParseAddr("203.0.113.10")
	ip2  = netip.MustParseAddr("203.0.113.1")
)

// A request decodes, with gopacket, as the ARP request it means.
func TestRequest(t *testing.T) {
	b, err := Request(mac1, ip1, ip2)
	if err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	a, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if eth == nil || a == nil || eth.DstMAC.String() != "ff:ff:ff:ff:ff:ff" || eth.SrcMAC.String() != mac1.String() ||
		a.Operation != layers.ARPRequest || net.IP(a.SourceProtAddress).String() != ip1.String() ||
		net.HardwareAddr(a.SourceHwAddress).String() != mac1.String() || net.IP(a.DstProtAddress).String() != ip2.String() {
		t.Fatalf("request %s decodes as %v", hex.EncodeToString(b), p)
	}
	if _, err := Request(mac1, netip.MustParseAddr("2001:db8::1"), ip2); err == nil {
		t.Fatal("an IPv6 sender was accepted")
	}
	pr, _ := Probe(mac1, ip2)
	if p := gopacket.NewPacket(pr, layers.LayerTypeEthernet, gopacket.Default); p.Layer(layers.LayerTypeARP) == nil ||
		net.IP(p.Layer(layers.LayerTypeARP).(*layers.ARP).SourceProtAddress).String() != "0.0.0.0" {
		t.Fatalf("probe %x", pr)
	}
	g, _ := Gratuitous(mac1, ip1)
	if p := gopacket.NewPacket(g, layers.LayerTypeEthernet, gopacket.Default); p.Layer(layers.LayerTypeARP) == nil ||
		net.IP(p.Layer(layers.LayerTypeARP).(*layers.ARP).DstProtAddress).String() != ip1.String() {
		t.Fatalf("gratuitous %x", g)
	}
}

// A reply encoded by gopacket parses back to its sender; anything else is
// refused.
func TestParseReply(t *testing.T) {
	reply := func(op uint16, sha net.HardwareAddr) []byte {
		buf := gopacket.NewSerializeBuffer()
		err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{},
			&layers.Ethernet{SrcMAC: sha, DstMAC: mac1, EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: op, SourceHwAddress: sha, SourceProtAddress: ip2.AsSlice(), DstHwAddress: mac1, DstProtAddress: ip1.AsSlice()})
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ip, mac, err := ParseReply(reply(layers.ARPReply, mac2))
	if err != nil || ip != ip2 || mac.String() != mac2.String() {
		t.Fatalf("reply: %v %v %v", ip, mac, err)
	}
	req, _ := Request(mac1, ip1, ip2)
	for name, b := range map[string][]byte{
		"request":           reply(layers.ARPRequest, mac2),
		"our own request":   req,
		"multicast sender":  reply(layers.ARPReply, net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}),
		"zero sender":       reply(layers.ARPReply, make(net.HardwareAddr, 6)),
		"short":             reply(layers.ARPReply, mac2)[:30],
		"not ARP (IPv4 ty)": append(append([]byte{}, reply(layers.ARPReply, mac2)[:12]...), append([]byte{8, 0}, reply(layers.ARPReply, mac2)[14:]...)...),
	} {
		if _, _, err := ParseReply(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	req, _ := Request(mac1, ip1, ip2)
	f.Add(req)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, mac, err := ParseReply(b)
		if err == nil && (!ip.Is4() || len(mac) != 6) {
			t.Fatalf("accepted %x as %v %v", b, ip, mac)
		}
	})
}

// The schedule: at once, then retries doubling up to the cap; an answer
// waits the refresh interval, then retries again until answered; a
// neighbour no longer wanted is forgotten.
func TestResolverSchedule(t *testing.T) {
	r := NewResolver(Timing{Retry: 100 * time.Millisecond, MaxRetry: 400 * time.Millisecond, Refresh: 10 * time.Second})
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	r.Want([]netip.Addr{ip2}, t0)
	var asked []time.Duration
	for d := time.Duration(0); d <= 2*time.Second; d += 50 * time.Millisecond {
		if len(r.Due(at(d))) > 0 {
			asked = append(asked, d)
		}
	}
	want := []time.Duration{0, 100, 300, 700, 1100, 1500, 1900}
	if len(asked) != len(want) {
		t.Fatalf("asked at %v, want %v ms", asked, want)
	}
	for i := range want {
		if asked[i] != want[i]*time.Millisecond {
			t.Fatalf("asked at %v, want %v ms", asked, want)
		}
	}
	if len(r.MACs()) != 0 {
		t.Fatal("resolved before an answer")
	}
	if r.Answer(ip1, mac1, at(2*time.Second)) {
		t.Fatal("an answer from an address not asked for counts")
	}
	if !r.Answer(ip2, mac2, at(2*time.Second)) || r.Answer(ip2, mac2, at(2*time.Second)) {
		t.Fatal("first answer changes, the same again does not")
	}
	if got := r.MACs()[ip2]; got.String() != mac2.String() {
		t.Fatalf("MACs %v", r.MACs())
	}
	if len(r.Due(at(11*time.Second))) != 0 || len(r.Due(at(12*time.Second))) != 1 || r.Next() != at(12*time.Second+100*time.Millisecond) {
		t.Fatalf("refresh not at 12 s then a retry 100 ms later (next %v)", r.Next().Sub(t0))
	}
	if r.MACs()[ip2] == nil {
		t.Fatal("an unanswered refresh forgot the MAC")
	}
	r.Want(nil, at(13*time.Second))
	if len(r.MACs()) != 0 || !r.Next().IsZero() {
		t.Fatal("unwanted neighbour kept")
	}
}
