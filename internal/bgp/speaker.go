package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/types/known/anypb"
)

// Speaker is an embedded GoBGP server announcing host routes. Its methods
// are safe for concurrent use; GoBGP's own event loop owns the sessions and
// the RIB, and the speaker only remembers what it announced.
type Speaker struct {
	log *slog.Logger
	srv *server.BgpServer

	mu        sync.Mutex
	announced map[netip.Prefix]netip.Addr
	stopped   bool
	// pending are the peers still to add, on the first Set (graceful
	// restart: Config.GracefulRestart).
	pending []Peer
	gr      time.Duration
}

// defaultConnectRetry is how often a down peer is dialled again. GoBGP's
// own default (120 s) is far too long for an edge router coming back.
const defaultConnectRetry = 5 * time.Second

// Start validates cfg, starts the speaker and adds its peers. A peer that
// is down is not an error: GoBGP keeps dialling it every ConnectRetry.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Speaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := server.NewBgpServer(server.LoggerOption(&logger{log: log}))
	go srv.Serve()
	port := int32(cfg.ListenPort)
	if port == 0 {
		port = 179
	}
	global := &api.Global{Asn: cfg.LocalAS, RouterId: cfg.RouterID.String(), ListenPort: port}
	for _, a := range cfg.ListenAddresses {
		global.ListenAddresses = append(global.ListenAddresses, a.String())
	}
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: start speaker (AS %d, listen port %d): %w", cfg.LocalAS, port, err)
	}
	s := &Speaker{log: log, srv: srv, announced: map[netip.Prefix]netip.Addr{}, gr: cfg.GracefulRestart}
	if s.gr > 0 {
		s.pending = slices.Clone(cfg.Peers)
		return s, nil
	}
	if err := s.addPeers(ctx, cfg.Peers); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// addPeers adds peers to the server.
func (s *Speaker) addPeers(ctx context.Context, peers []Peer) error {
	for _, p := range peers {
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p, s.gr)}); err != nil {
			return fmt.Errorf("bgp: add peer %s: %w", p.Address, err)
		}
		s.log.Info("bgp peer configured", "peer", p.Address, "as", p.AS, "port", p.Port, "graceful_restart", s.gr)
	}
	return nil
}

func apiPeer(p Peer, gr time.Duration) *api.Peer {
	retry := p.ConnectRetry
	if retry == 0 {
		retry = defaultConnectRetry
	}
	hold := p.HoldTime
	if hold == 0 {
		hold = 90 * time.Second
	}
	keep := p.KeepAlive
	if keep == 0 {
		keep = hold / 3
	}
	ap := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.Unmap().String(), PeerAsn: uint32(p.AS), AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(retry / time.Second),
			HoldTime:          uint64(hold / time.Second),
			KeepaliveInterval: uint64(keep / time.Second),
			// Back to dialling one second after a session resets
			// (GoBGP's default idles for 30 s).
			IdleHoldTimeAfterReset: 1,
		}},
		Transport: &api.Transport{PassiveMode: p.Passive},
	}
	if p.Port != 0 {
		ap.Transport.RemotePort = uint32(p.Port)
	}
	if gr > 0 {
		// The restarting speaker's side of RFC 4724: Restart State and
		// Forwarding State bits set (LocalRestarting), IPv4 unicast
		// preserved; routes go out after the peer's End-of-RIB (or the
		// deferral time), followed by ours.
		ap.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(gr / time.Second),
			LocalRestarting: true, DeferralTime: grDeferral}
		ap.AfiSafis = []*api.AfiSafi{{
			Config:            &api.AfiSafiConfig{Family: ipv4Unicast, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}},
		}}
	}
	return ap
}

// grDeferral is how long a restarting speaker waits for a peer's
// End-of-RIB before it sends its routes anyway, in seconds.
const grDeferral = 5

// Stop tears the sessions down and stops the server.
func (s *Speaker) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if err := s.srv.StopBgp(context.Background(), &api.StopBgpRequest{}); err != nil {
		s.log.Warn("bgp stop", "err", err)
	}
	s.srv.Stop()
}

var ipv4Unicast = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}

func apiPath(r Route) (*api.Path, error) {
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: r.Prefix.Addr().String(), PrefixLen: uint32(r.Prefix.Bits())})
	if err != nil {
		return nil, fmt.Errorf("bgp: encode %v: %w", r.Prefix, err)
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP
	if err != nil {
		return nil, fmt.Errorf("bgp: encode origin: %w", err)
	}
	nh, err := anypb.New(&api.NextHopAttribute{NextHop: r.NextHop.String()})
	if err != nil {
		return nil, fmt.Errorf("bgp: encode next hop: %w", err)
	}
	return &api.Path{Family: ipv4Unicast, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh}}, nil
}

// Announce advertises prefix with next hop nexthop, replacing an earlier
// announcement of the same prefix.
func (s *Speaker) Announce(ctx context.Context, prefix netip.Prefix, nexthop netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.announce(ctx, Route{Prefix: prefix, NextHop: nexthop})
}

func (s *Speaker) announce(ctx context.Context, r Route) error {
	if err := r.check(); err != nil {
		return err
	}
	if nh, ok := s.announced[r.Prefix]; ok && nh == r.NextHop {
		return nil
	}
	p, err := apiPath(r)
	if err != nil {
		return err
	}
	// A path from the same (local) source replaces the previous one.
	if _, err := s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: p}); err != nil {
		return fmt.Errorf("bgp: announce %v: %w", r, err)
	}
	s.announced[r.Prefix] = r.NextHop
	s.log.Info("bgp announce", "prefix", r.Prefix, "nexthop", r.NextHop)
	return nil
}

// Withdraw stops advertising prefix; withdrawing a prefix that is not
// announced does nothing.
func (s *Speaker) Withdraw(ctx context.Context, prefix netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.withdraw(ctx, prefix)
}

func (s *Speaker) withdraw(ctx context.Context, prefix netip.Prefix) error {
	nh, ok := s.announced[prefix]
	if !ok {
		return nil
	}
	p, err := apiPath(Route{Prefix: prefix, NextHop: nh})
	if err != nil {
		return err
	}
	if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast, Path: p}); err != nil {
		return fmt.Errorf("bgp: withdraw %v: %w", prefix, err)
	}
	delete(s.announced, prefix)
	s.log.Info("bgp withdraw", "prefix", prefix)
	return nil
}

// Set makes the announced routes exactly routes: it announces the new and
// changed ones and withdraws the others. It may be called any number of
// times with the same set. Every route is checked before anything changes;
// the first failing GoBGP call stops it, and the next Set retries.
func (s *Speaker) Set(ctx context.Context, routes []Route) error {
	want := make(map[netip.Prefix]netip.Addr, len(routes))
	for _, r := range routes {
		if err := r.check(); err != nil {
			return err
		}
		if nh, dup := want[r.Prefix]; dup && nh != r.NextHop {
			return fmt.Errorf("bgp: %v given twice, via %v and %v", r.Prefix, nh, r.NextHop)
		}
		want[r.Prefix] = r.NextHop
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for prefix := range s.announced {
		if _, keep := want[prefix]; !keep {
			if err := s.withdraw(ctx, prefix); err != nil {
				return err
			}
		}
	}
	for prefix, nh := range want {
		if err := s.announce(ctx, Route{Prefix: prefix, NextHop: nh}); err != nil {
			return err
		}
	}
	s.connectPending(ctx)
	return nil
}

// connectPending adds the peers held back for graceful restart once the
// first Set has put the routes in the RIB (s.mu held). A failure is
// logged and retried by the next Set.
func (s *Speaker) connectPending(ctx context.Context) {
	if len(s.pending) == 0 || s.stopped {
		return
	}
	for len(s.pending) > 0 {
		if err := s.addPeers(ctx, s.pending[:1]); err != nil {
			s.log.Warn("bgp peer", "err", err)
			return
		}
		s.pending = s.pending[1:]
	}
}

// Routes returns the announced routes, sorted by prefix.
func (s *Speaker) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedRoutes(s.announced)
}

func sortedRoutes(m map[netip.Prefix]netip.Addr) []Route {
	out := make([]Route, 0, len(m))
	for p, nh := range m {
		out = append(out, Route{Prefix: p, NextHop: nh})
	}
	slices.SortFunc(out, func(a, b Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	return out
}

// Peers returns the state of every configured neighbour.
func (s *Speaker) Peers(ctx context.Context) ([]PeerState, error) {
	var out []PeerState
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		ps := PeerState{}
		if p.Conf != nil {
			ps.Address, _ = netip.ParseAddr(p.Conf.NeighborAddress)
			ps.AS = p.Conf.PeerAsn
		}
		if p.State != nil {
			ps.State = strings.ToLower(strings.TrimPrefix(p.State.SessionState.String(), "PeerState_"))
			ps.Established = p.State.SessionState == api.PeerState_ESTABLISHED
		}
		if p.Timers != nil && p.Timers.State != nil {
			if ps.Established && p.Timers.State.Uptime != nil {
				ps.Since = p.Timers.State.Uptime.AsTime()
			} else if p.Timers.State.Downtime != nil {
				ps.Since = p.Timers.State.Downtime.AsTime()
			}
		}
		for _, af := range p.AfiSafis {
			if af.State != nil {
				ps.Advertised += af.State.Advertised
			}
		}
		out = append(out, ps)
	})
	if err != nil {
		return nil, fmt.Errorf("bgp: list peers: %w", err)
	}
	slices.SortFunc(out, func(a, b PeerState) int { return a.Address.Compare(b.Address) })
	return out, nil
}

// logger hands GoBGP's logs to slog. GoBGP is chatty at info level, so its
// info becomes debug; warnings and errors stay.
type logger struct{ log *slog.Logger }

func attrs(f gobgplog.Fields) []any {
	out := make([]any, 0, 2*len(f))
	for k, v := range f {
		if k == "Topic" || k == gobgplog.FieldFacility {
			continue
		}
		out = append(out, k, v)
	}
	return out
}

func (l *logger) Panic(msg string, f gobgplog.Fields) {
	l.log.Error("gobgp: "+msg, attrs(f)...)
	panic(msg)
}
func (l *logger) Fatal(msg string, f gobgplog.Fields) { l.log.Error("gobgp: "+msg, attrs(f)...) }
func (l *logger) Error(msg string, f gobgplog.Fields) { l.log.Error("gobgp: "+msg, attrs(f)...) }
func (l *logger) Warn(msg string, f gobgplog.Fields)  { l.log.Warn("gobgp: "+msg, attrs(f)...) }
func (l *logger) Info(msg string, f gobgplog.Fields)  { l.log.Debug("gobgp: "+msg, attrs(f)...) }
func (l *logger) Debug(msg string, f gobgplog.Fields) {}
func (l *logger) SetLevel(gobgplog.LogLevel)          {}
func (l *logger) GetLevel() gobgplog.LogLevel         { return gobgplog.InfoLevel }
