package gateway

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
)

// TestBGPMetrics: two real speakers on the loopback; the announcer's
// metrics show the session up and the floating IP it announces.
func TestBGPMetrics(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	recv, err := bgp.Start(context.Background(), bgp.Config{LocalAS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"),
		ListenPort: port, ListenAddresses: []netip.Addr{lo}, Peers: []bgp.Peer{{Address: lo, AS: 65010, Passive: true}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Stop()
	ann, err := bgp.Start(context.Background(), bgp.Config{LocalAS: 65010, RouterID: netip.MustParseAddr("10.255.0.2"),
		ListenPort: -1, Peers: []bgp.Peer{{Address: lo, AS: 65000, Port: port, HoldTime: 3 * time.Second,
			KeepAlive: time.Second, ConnectRetry: time.Second}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Stop()
	src := bgpSource(ann)
	ctx := context.Background()
	if err := ann.Announce(ctx, netip.MustParsePrefix("203.0.113.10/32"), netip.MustParseAddr("192.0.2.10")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		peers, announced, err := src(ctx)
		if err == nil && len(peers) == 1 && peers[0].Established && peers[0].Advertised == 1 && announced == 1 {
			if peers[0].Address != "127.0.0.1" || peers[0].State != "established" {
				t.Errorf("peer %+v", peers[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("peers %+v, announced %d, err %v", peers, announced, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
