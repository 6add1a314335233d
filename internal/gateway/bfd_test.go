package gateway

import (
	"net/netip"
	"testing"
)

// A peer's BFD session vetoes it only once it has been up: a router
// without BFD is judged by BGP alone.
func TestBFDSessions(t *testing.T) {
	b := &bfdSessions{up: map[netip.Addr]bool{}}
	p := netip.MustParseAddr("198.51.100.1")
	if !b.isUp(p) {
		t.Fatal("a peer never heard over BFD vetoed")
	}
	b.set(p, true)
	b.set(p, false)
	if b.isUp(p) {
		t.Fatal("a peer whose BFD session went down still up")
	}
	if b.set(p, true); !b.isUp(netip.MustParseAddr("::ffff:198.51.100.1")) {
		t.Fatal("up again, as a mapped address: not up")
	}
}
