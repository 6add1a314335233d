package agent

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestGratuitousARP(t *testing.T) {
	b, err := garp(netip.MustParseAddr("203.0.113.10"), "fa:16:3e:00:00:0a")
	if err != nil {
		t.Fatal(err)
	}
	mac := []byte{0xfa, 0x16, 0x3e, 0, 0, 0x0a}
	ip := []byte{203, 0, 113, 10}
	want := bytes.Join([][]byte{
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac, {0x08, 0x06},
		{0, 1, 0x08, 0, 6, 4, 0, 1}, mac, ip, {0, 0, 0, 0, 0, 0}, ip,
	}, nil)
	if !bytes.Equal(b, want) {
		t.Fatalf("garp = % x\nwant   % x", b, want)
	}
	if _, err := garp(netip.MustParseAddr("2001:db8::1"), "fa:16:3e:00:00:0a"); err == nil {
		t.Error("IPv6 address accepted")
	}
}
