package bgp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

func testLog(t *testing.T) *slog.Logger {
	if os.Getenv("BGP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var loopback = netip.MustParseAddr("127.0.0.1")

// receiver is an "upstream router": it listens on port and accepts the
// announcer (AS 65010) from 127.0.0.1.
func receiver(t *testing.T, port int) *Speaker {
	t.Helper()
	s, err := Start(context.Background(), Config{LocalAS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"),
		ListenPort: port, ListenAddresses: []netip.Addr{loopback},
		Peers: []Peer{{Address: loopback, AS: 65010, Passive: true}}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// announcer dials the receiver at port and never listens.
func announcer(t *testing.T, port int) *Speaker {
	t.Helper()
	s, err := Start(context.Background(), Config{LocalAS: 65010, RouterID: netip.MustParseAddr("10.255.0.2"),
		ListenPort: -1, Peers: []Peer{{Address: loopback, AS: 65000, Port: port,
			HoldTime: 3 * time.Second, KeepAlive: time.Second, ConnectRetry: time.Second}}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// learned returns the routes in s's RIB that came from a peer.
func learned(t *testing.T, s *Speaker) []Route {
	t.Helper()
	var out []Route
	err := s.srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast},
		func(d *api.Destination) {
			for _, p := range d.Paths {
				if p.NeighborIp == "" || p.NeighborIp == "<nil>" {
					continue // local
				}
				var nh string
				for _, a := range p.Pattrs {
					var v api.NextHopAttribute
					if a.UnmarshalTo(&v) == nil {
						nh = v.NextHop
					}
				}
				pr, err1 := netip.ParsePrefix(d.Prefix)
				addr, err2 := netip.ParseAddr(nh)
				if err1 == nil && err2 == nil {
					out = append(out, Route{Prefix: pr, NextHop: addr})
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b Route) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
	return out
}

func routesText(rs []Route) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}

// waitRoutes waits until the receiver learned exactly want.
func waitRoutes(t *testing.T, s *Speaker, want []Route, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		got := learned(t, s)
		if routesText(got) == routesText(want) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the receiver holds [%s], want [%s]", within, routesText(got), routesText(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func route(p, nh string) Route {
	return Route{Prefix: netip.MustParsePrefix(p), NextHop: netip.MustParseAddr(nh)}
}

func TestAnnounceWithdrawSet(t *testing.T) {
	port := freePort(t)
	r := receiver(t, port)
	a := announcer(t, port)
	ctx := context.Background()

	r1, r2, r3 := route("203.0.113.10/32", "198.51.100.2"), route("203.0.113.11/32", "198.51.100.2"),
		route("203.0.113.12/32", "198.51.100.2")
	if err := a.Announce(ctx, r1.Prefix, r1.NextHop); err != nil {
		t.Fatal(err)
	}
	took := waitRoutes(t, r, []Route{r1}, 10*time.Second)
	t.Logf("first route learned %v after the announcement (session set-up included)", took)

	if err := a.Set(ctx, []Route{r2, r3}); err != nil {
		t.Fatal(err)
	}
	took = waitRoutes(t, r, []Route{r2, r3}, 5*time.Second)
	t.Logf("set of two learned, one withdrawn in %v", took)
	// The same set again changes nothing.
	for range 3 {
		if err := a.Set(ctx, []Route{r3, r2}); err != nil {
			t.Fatal(err)
		}
	}
	waitRoutes(t, r, []Route{r2, r3}, time.Second)
	if got := routesText(a.Routes()); got != routesText([]Route{r2, r3}) {
		t.Fatalf("Routes() = %s", got)
	}

	// A new next hop replaces the route.
	moved := route("203.0.113.12/32", "198.51.100.3")
	if err := a.Announce(ctx, moved.Prefix, moved.NextHop); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, r, []Route{r2, moved}, 5*time.Second)

	if err := a.Withdraw(ctx, r2.Prefix); err != nil {
		t.Fatal(err)
	}
	if err := a.Withdraw(ctx, r2.Prefix); err != nil {
		t.Fatalf("second withdraw: %v", err)
	}
	waitRoutes(t, r, []Route{moved}, 5*time.Second)
	if err := a.Set(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, r, nil, 5*time.Second)

	peers, err := a.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || !peers[0].Established || peers[0].Address != loopback || peers[0].AS != 65000 {
		t.Fatalf("peers = %+v", peers)
	}
}

// TestPeerRestart: the upstream speaker restarts (a flap, a router reboot);
// the announcer redials and re-advertises everything by itself.
func TestPeerRestart(t *testing.T) {
	port := freePort(t)
	r := receiver(t, port)
	a := announcer(t, port)
	ctx := context.Background()
	want := []Route{route("203.0.113.20/32", "198.51.100.2"), route("203.0.113.21/32", "198.51.100.2")}
	if err := a.Set(ctx, want); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, r, want, 10*time.Second)

	r.Stop()
	r2 := receiver(t, port)
	took := waitRoutes(t, r2, want, 15*time.Second)
	t.Logf("routes back in the restarted peer's RIB %v after its restart", took)
}

// TestPeerDownAtStart: a peer that does not answer yet is no error; the
// routes reach it once it comes up.
func TestPeerDownAtStart(t *testing.T) {
	port := freePort(t)
	a := announcer(t, port)
	ctx := context.Background()
	want := []Route{route("203.0.113.30/32", "198.51.100.2")}
	if err := a.Set(ctx, want); err != nil {
		t.Fatal(err)
	}
	peers, err := a.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || peers[0].Established {
		t.Fatalf("peers before the receiver runs = %+v", peers)
	}
	r := receiver(t, port)
	took := waitRoutes(t, r, want, 15*time.Second)
	t.Logf("late peer learned the routes %v after it started", took)
}

// TestGracefulRestartPeersAfterFirstSet: a speaker with graceful restart
// dials its peers only once the first Set has put its routes in the RIB
// (its End-of-RIB must follow them), and the peer learns them. (That a
// helper keeps the routes across the speaker's restart is shown with FRR
// in test/edge, TestChassisBGP.)
func TestGracefulRestartPeersAfterFirstSet(t *testing.T) {
	port := freePort(t)
	r := receiver(t, port)
	a, err := Start(context.Background(), Config{LocalAS: 65010, RouterID: netip.MustParseAddr("10.255.0.2"),
		ListenPort: -1, GracefulRestart: 30 * time.Second, Peers: []Peer{{Address: loopback, AS: 65000, Port: port,
			HoldTime: 3 * time.Second, KeepAlive: time.Second, ConnectRetry: time.Second}}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	ctx := context.Background()
	if peers, err := a.Peers(ctx); err != nil || len(peers) != 0 {
		t.Fatalf("peers before the first Set: %+v (%v), want none", peers, err)
	}
	want := []Route{route("203.0.113.40/32", "198.51.100.2")}
	if err := a.Set(ctx, want); err != nil {
		t.Fatal(err)
	}
	took := waitRoutes(t, r, want, 20*time.Second)
	t.Logf("graceful-restart speaker's routes learned %v after the first Set", took)
	if peers, err := a.Peers(ctx); err != nil || len(peers) != 1 {
		t.Fatalf("peers after the first Set: %+v (%v)", peers, err)
	}
}

func TestConfigErrors(t *testing.T) {
	id := netip.MustParseAddr("192.0.2.1")
	peer := func(addr string, as uint64) Peer { return Peer{Address: netip.MustParseAddr(addr), AS: as} }
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"local AS 0", Config{RouterID: id}, "local AS number"},
		{"no router id", Config{LocalAS: 65000}, "router id"},
		{"peer AS 0", Config{LocalAS: 65000, RouterID: id, Peers: []Peer{peer("192.0.2.2", 0)}}, "AS number must be"},
		{"peer AS too large", Config{LocalAS: 65000, RouterID: id, Peers: []Peer{peer("192.0.2.2", 1<<32)}}, "not 4294967296"},
		{"bad peer address", Config{LocalAS: 65000, RouterID: id, Peers: []Peer{{AS: 65001}}}, "not a unicast address"},
		{"duplicate peer", Config{LocalAS: 65000, RouterID: id, Peers: []Peer{peer("192.0.2.2", 65001), peer("192.0.2.2", 65002)}}, "configured twice"},
		{"hold time", Config{LocalAS: 65000, RouterID: id, Peers: []Peer{{Address: netip.MustParseAddr("192.0.2.2"), AS: 65001, HoldTime: time.Second}}}, "hold time"},
		{"keepalive", Config{LocalAS: 65000, RouterID: id, Peers: []Peer{{Address: netip.MustParseAddr("192.0.2.2"), AS: 65001, HoldTime: 9 * time.Second, KeepAlive: 9 * time.Second}}}, "keepalive"},
		{"listen port", Config{LocalAS: 65000, RouterID: id, ListenPort: 70000}, "listen port"},
		{"graceful restart too long", Config{LocalAS: 65000, RouterID: id, GracefulRestart: 4096 * time.Second}, "graceful restart"},
		{"graceful restart fraction", Config{LocalAS: 65000, RouterID: id, GracefulRestart: 1500 * time.Millisecond}, "graceful restart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(context.Background(), tc.cfg, nil)
			if err == nil {
				s.Stop()
				t.Fatal("started")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRouteErrors(t *testing.T) {
	s, err := Start(context.Background(), Config{LocalAS: 65000, RouterID: netip.MustParseAddr("192.0.2.1"), ListenPort: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx := context.Background()
	if err := s.Announce(ctx, netip.MustParsePrefix("2001:db8::1/128"), netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Fatal("IPv6 announced")
	}
	if err := s.Announce(ctx, netip.MustParsePrefix("203.0.113.1/24"), netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Fatal("prefix with host bits announced")
	}
	err = s.Set(ctx, []Route{route("203.0.113.1/32", "192.0.2.1"), route("203.0.113.1/32", "192.0.2.2")})
	if err == nil {
		t.Fatal("conflicting set accepted")
	}
	if len(s.Routes()) != 0 {
		t.Fatalf("a refused set changed routes: %v", s.Routes())
	}
}
