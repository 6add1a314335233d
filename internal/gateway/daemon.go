package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/wyvern-sdn/wyvern/internal/bfd"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Run is `wyvern gateway`: it connects to etcd and Open vSwitch, starts
// the BGP speaker and serves until ctx ends. cfg is validated here.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log = log.With("gateway", cfg.Name, "pool", cfg.Pool)
	tlsCfg, err := cfg.EtcdTLS.ClientFor(cfg.EtcdEndpoints)
	if err != nil {
		return fmt.Errorf("gateway: etcd: %w", err)
	}
	st, err := store.DialTLS(ctx, cfg.EtcdEndpoints, tlsCfg)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer st.Close()
	br, err := OpenBridge(ctx, cfg, log)
	if err != nil {
		return err
	}
	speaker, err := bgp.Start(ctx, cfg.BGP, log.With("component", "bgp"))
	if err != nil {
		return err
	}
	defer speaker.Stop()
	metrics.SetBGPSource(bgpSource(speaker))
	defer metrics.SetBGPSource(nil)
	ports := br.Ports()
	macs := make(chan net.HardwareAddr, 1)
	if cfg.UpstreamMAC != nil {
		ports.UpstreamMAC = cfg.UpstreamMAC
	} else {
		go resolveUpstream(ctx, cfg.UpstreamIP, 10*time.Second, macs, log)
	}
	go logPeers(ctx, speaker, log)
	var sessions *bfdSessions // nil: no BFD
	if cfg.BFD.Interval != 0 {
		sessions = &bfdSessions{up: map[netip.Addr]bool{}}
		r, err := bfd.Open(cfg.bfd(), log.With("component", "bfd"), sessions.set)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		go r.Run(ctx)
	}
	if err := register(ctx, st, cfg); err != nil {
		return err
	}
	g := New(cfg, Deps{Source: st, Flows: br, Announcer: speaker, Ports: ports, MACs: macs, Resync: br.Resync(),
		SetNeighbour: br.SetTunnelNeighbour, Counters: br.InboundCounters, Steer: steerTxn(st)}, log)
	if cfg.TunnelEndpoint.IsValid() {
		if err := br.HoldEndpoint(ctx, cfg.TunnelEndpoint); err != nil {
			return err
		}
	}
	if len(cfg.TunnelPeers) > 0 {
		tsp, err := bgp.Start(ctx, cfg.tunnelBGP(), log.With("component", "bgp-tunnel"))
		if err != nil {
			return err
		}
		defer tsp.Stop()
		go logPeers(ctx, tsp, log.With("side", "tunnel"))
		up := upstreamUp(speaker, sessions)
		if len(cfg.BGP.Peers) == 0 {
			up = func(context.Context) bool { return true } // nothing to watch
		}
		check := time.Second
		if cfg.BFD.Interval != 0 {
			check = min(check, cfg.BFD.Interval)
		}
		go announceEndpoint(ctx, g.Synced(), tsp, cfg.tunnelRoute(), up, check, log)
	}
	log.Info("gateway started", "uplink_ip", cfg.UplinkIP, "upstream", cfg.UpstreamIP, "as", cfg.BGP.LocalAS, "peers", len(cfg.BGP.Peers),
		"steer_threshold_pps", cfg.Steering.Threshold, "steer_pool", cfg.Steering.Pool, "steer_hold_down", cfg.Steering.HoldDown)
	return g.Run(ctx)
}

// announceEndpoint announces the tunnel endpoint to the underlay's routers
// once the gateway serves (synced) and while up reports a BGP session to
// an upstream router established, checked every interval: a gateway cut
// off from the upstream routers (its floating IPs withdrawn there when
// their sessions' hold time expires) stops drawing the chassis' outbound
// traffic too, which it could no longer deliver. A failed Set is retried
// at the next check.
func announceEndpoint(ctx context.Context, synced <-chan struct{}, s Announcer, r Route, up func(context.Context) bool,
	interval time.Duration, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-synced:
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	announced, known := false, false
	for {
		want := up(ctx)
		if !known || want != announced {
			var routes []Route
			if want {
				routes = []Route{r}
			}
			if err := s.Set(ctx, routes); err != nil {
				log.Warn("tunnel endpoint", "route", r, "err", err)
			} else {
				announced, known = want, true
				if want {
					log.Info("tunnel endpoint announced", "route", r)
				} else {
					log.Warn("tunnel endpoint withdrawn: no BGP session to an upstream router", "route", r)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// upstreamUp reports whether the speaker has an established session (with
// BFD, one whose BFD session is up too).
func upstreamUp(s *bgp.Speaker, sessions *bfdSessions) func(context.Context) bool {
	return func(ctx context.Context) bool {
		peers, err := s.Peers(ctx)
		if err != nil {
			return false
		}
		for _, p := range peers {
			if p.Established && (sessions == nil || sessions.isUp(p.Address)) {
				return true
			}
		}
		return false
	}
}

// bfdSessions is which upstream peers' BFD sessions are up. A peer whose
// session never came up (a router without BFD) is judged by BGP alone.
type bfdSessions struct {
	mu sync.Mutex
	up map[netip.Addr]bool
}

func (b *bfdSessions) set(peer netip.Addr, up bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up[peer] = up
}

func (b *bfdSessions) isUp(peer netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	up, known := b.up[peer.Unmap()]
	return up || !known
}

// registrationTTL is the lease of a gateway's registration: it is gone
// this long after the gateway dies.
const registrationTTL = 10 * time.Second

// register writes the gateway's registration under its lease, kept alive
// while ctx lives: the API accepts the pools of registered gateways.
func register(ctx context.Context, st *store.Store, cfg Config) error {
	rec := model.EdgeGateway{Name: cfg.Name, Pool: cfg.Pool, UplinkIP: cfg.UplinkIP.String(), Encaps: cfg.Encaps,
		StartedAt: time.Now().UTC()}
	if cfg.TunnelIP.IsValid() {
		rec.TunnelIP = cfg.TunnelIP.String()
	}
	if cfg.Steering.Threshold > 0 {
		rec.SteerPool = cfg.Steering.Pool
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("gateway: registration: %w", err)
	}
	if err := st.Register(ctx, registrationTTL, nil, map[string]string{store.EdgeGatewayKey(cfg.Name): string(b)}); err != nil {
		return fmt.Errorf("gateway: register: %w", err)
	}
	return nil
}

// steerTxn is Deps.Steer on the store: one transaction reading the pool
// record and the floating IP, so that it fails and retries if either
// changes before the commit.
func steerTxn(st *store.Store) func(ctx context.Context, fipID string, decide func(*PoolAssignment) *PoolAssignment) (bool, error) {
	return func(ctx context.Context, fipID string, decide func(*PoolAssignment) *PoolAssignment) (bool, error) {
		wrote := false
		err := st.Txn(ctx, func(tx *store.Tx) error {
			wrote = false
			tx.Prefetch(PoolKey(fipID), store.ObjectKey(store.KindFloatingIPs, fipID))
			if !tx.Exists(store.ObjectKey(store.KindFloatingIPs, fipID)) {
				return nil
			}
			var cur *PoolAssignment
			var rec PoolAssignment
			if ok, err := tx.Get(PoolKey(fipID), &rec); err != nil {
				return err
			} else if ok {
				cur = &rec
			}
			next := decide(cur)
			if next == nil {
				return nil
			}
			wrote = true
			return tx.Put(PoolKey(fipID), next)
		})
		if err != nil {
			return false, fmt.Errorf("gateway: steer %s: %w", fipID, err)
		}
		return wrote, nil
	}
}

// logPeers logs each BGP session state change.
func logPeers(ctx context.Context, s *bgp.Speaker, log *slog.Logger) {
	last := map[string]string{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		peers, err := s.Peers(ctx)
		if err != nil {
			continue
		}
		for _, p := range peers {
			if last[p.Address.String()] != p.State {
				last[p.Address.String()] = p.State
				log.Info("bgp peer", "peer", p.Address, "state", p.State, "advertised", p.Advertised)
			}
		}
	}
}
