package gateway

import (
	"context"
	"errors"
	"fmt"
	"github.com/wyvern-sdn/wyvern/internal/bfd"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/pki"
)

// Config is one gateway's configuration.
type Config struct {
	// Name identifies the gateway (logs, status).
	Name string
	// Pool is the gateway pool it belongs to (DefaultPool when empty).
	Pool string
	// EtcdEndpoints is the store; EtcdTLS its certificates (none: plain
	// TCP).
	EtcdEndpoints []string
	EtcdTLS       pki.Files
	// OVSDB is the Open vSwitch database (unix:<dir>/db.sock), RunDir the
	// directory with <Bridge>.mgmt, Bridge the gateway's own bridge
	// (br-edge) and DatapathType its datapath (netdev: userspace).
	OVSDB, RunDir, Bridge, DatapathType string
	// UplinkPort is the bridge's port towards the upstream routers.
	UplinkPort string
	// UplinkIP is the address of the bridge's LOCAL interface on the
	// uplink subnet: the next hop of every announcement.
	UplinkIP netip.Addr
	// UpstreamIP is the upstream router's address on the uplink subnet;
	// its MAC is resolved by ARP unless UpstreamMAC overrides it.
	UpstreamIP  netip.Addr
	UpstreamMAC net.HardwareAddr
	// TunnelIP is the gateway's underlay address, Encaps its tunnel types,
	// TunnelBridge the bridge holding TunnelIP (br-phy), where the
	// chassis' MACs are set as static tunnel neighbours.
	TunnelIP     netip.Addr
	Encaps       []string
	TunnelBridge string
	// BGP is the speaker's configuration; its RouterID defaults to UplinkIP.
	BGP bgp.Config
	// TunnelEndpoint is the pool's anycast tunnel endpoint (the seed's
	// "TunnelNet"), an address every gateway of the pool holds on its
	// tunnel bridge (it adds it there itself: Bridge.HoldEndpoint), where
	// the chassis in edge mode send (their --edge-endpoint). With TunnelPeers, the routers of the underlay,
	// the gateway announces it to them as a /32 via its TunnelIP once it
	// serves (its first sync) and while a BGP session to an upstream
	// router is established, over a second speaker of the same AS that
	// only dials out: the underlay spreads the chassis' traffic over the
	// pool's gateways with ECMP, and a dead gateway's session takes its
	// path away. No graceful restart on either speaker: a gateway's
	// routes must go with it.
	TunnelEndpoint netip.Addr
	TunnelPeers    []bgp.Peer
	// Steering is the automatic steering of hot addresses (steer.go);
	// off when its threshold is zero.
	Steering Steering
	// BFD runs a BFD session with each upstream BGP peer (off while its
	// Interval is zero): a router configured for BFD on the session
	// (FRR's `neighbor X bfd`) then drops the gateway's routes within
	// Multiplier × Interval of hearing nothing, not BGP's hold time. A
	// peer whose BFD session is down no longer counts as up for the
	// tunnel endpoint's announcement either.
	BFD BFDConfig
	// Coalesce, once the first sync is done, holds a sync back at least
	// that long after the event that makes it necessary (and four times
	// the last sync's duration, up to 100 ms), folding in what else
	// arrives meanwhile. Each sync builds the whole view (1,000 floating
	// IPs: a few milliseconds), so under a stream of associations the
	// gateway spends at most about a fifth of its time syncing, at the
	// cost of that much latency; on a host shared with others (the test
	// bed) it leaves them the CPU. 0: sync as soon as the queue is empty.
	Coalesce time.Duration
}

// Validate reports the first problem of c, after filling defaults.
func (c *Config) Validate() error {
	if c.Name == "" {
		return errors.New("gateway: a name is required")
	}
	if c.Pool == "" {
		c.Pool = DefaultPool
	}
	if err := ValidPool(c.Pool); err != nil {
		return err
	}
	if c.Bridge == "" {
		c.Bridge = "br-edge"
	}
	if c.UplinkPort == "" {
		return errors.New("gateway: an uplink port is required")
	}
	if c.UplinkPort == c.Bridge {
		return fmt.Errorf("gateway: uplink port %q is the bridge itself", c.UplinkPort)
	}
	if !c.UplinkIP.Is4() {
		return fmt.Errorf("gateway: uplink address %q is not IPv4", c.UplinkIP)
	}
	if c.UpstreamMAC == nil && !c.UpstreamIP.Is4() {
		return fmt.Errorf("gateway: upstream router address %q is not IPv4 (or give its MAC)", c.UpstreamIP)
	}
	if c.UpstreamMAC != nil && len(c.UpstreamMAC) != 6 {
		return fmt.Errorf("gateway: upstream MAC %v is not an Ethernet address", c.UpstreamMAC)
	}
	if c.TunnelIP.IsValid() && !c.TunnelIP.Is4() {
		return fmt.Errorf("gateway: tunnel address %q is not IPv4", c.TunnelIP)
	}
	if c.TunnelBridge == "" {
		c.TunnelBridge = "br-phy"
	}
	if len(c.Encaps) == 0 {
		c.Encaps = []string{"geneve", "vxlan"}
	}
	for _, e := range c.Encaps {
		if e != "geneve" && e != "vxlan" {
			return fmt.Errorf("gateway: unknown encapsulation %q (geneve, vxlan)", e)
		}
	}
	if !c.BGP.RouterID.IsValid() {
		c.BGP.RouterID = c.UplinkIP
	}
	if c.BGP.GracefulRestart != 0 {
		return errors.New("gateway: no graceful restart on a gateway's BGP sessions: a dead gateway's routes must be withdrawn at once")
	}
	if err := c.BGP.Validate(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if c.TunnelEndpoint.IsValid() && (!c.TunnelEndpoint.Is4() || c.TunnelEndpoint.IsUnspecified()) {
		return fmt.Errorf("gateway: tunnel endpoint %q is not an IPv4 address", c.TunnelEndpoint)
	}
	if len(c.TunnelPeers) > 0 {
		if !c.TunnelEndpoint.IsValid() {
			return errors.New("gateway: tunnel BGP peers announce the tunnel endpoint: give it (--tunnel-endpoint)")
		}
		if !c.TunnelIP.IsValid() {
			return errors.New("gateway: the tunnel endpoint is announced via the tunnel address: give it (--tunnel-ip)")
		}
		if c.TunnelEndpoint == c.TunnelIP {
			return fmt.Errorf("gateway: tunnel endpoint %s is the gateway's own tunnel address: it is shared by the pool's gateways", c.TunnelEndpoint)
		}
		tc := c.tunnelBGP()
		if err := tc.Validate(); err != nil {
			return fmt.Errorf("gateway: tunnel side: %w", err)
		}
		for _, p := range c.TunnelPeers {
			if p.Passive {
				return fmt.Errorf("gateway: tunnel peer %s is passive, but the tunnel side's speaker does not listen", p.Address)
			}
		}
	}
	if c.BFD.Interval != 0 {
		if len(c.BGP.Peers) == 0 {
			return errors.New("gateway: BFD runs with the upstream BGP peers: give one (--bgp-peer)")
		}
		bc := c.bfd()
		if err := bc.Validate(); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
	}
	if c.Coalesce < 0 || c.Coalesce > time.Second {
		return fmt.Errorf("gateway: coalesce %s is not between 0 and 1s", c.Coalesce)
	}
	return c.Steering.validate()
}

// BFDConfig is the gateway's BFD with its upstream routers.
type BFDConfig struct {
	Interval   time.Duration // 0: no BFD
	Multiplier uint8
}

// bfd is the BFD configuration: a session with each upstream BGP peer,
// from the uplink address.
func (c *Config) bfd() bfd.Config {
	peers := make([]netip.Addr, len(c.BGP.Peers))
	for i, p := range c.BGP.Peers {
		peers[i] = p.Address
	}
	return bfd.Config{Local: c.UplinkIP, Peers: peers, Interval: c.BFD.Interval, Multiplier: c.BFD.Multiplier}
}

// tunnelBGP is the tunnel side's speaker configuration: the AS and router
// id of the upstream side, never listening (the upstream speaker may hold
// port 179), the TunnelPeers.
func (c *Config) tunnelBGP() bgp.Config {
	return bgp.Config{LocalAS: c.BGP.LocalAS, RouterID: c.BGP.RouterID, ListenPort: -1, Peers: c.TunnelPeers}
}

// tunnelRoute is the tunnel endpoint's announcement: the /32 via the
// gateway's own underlay address.
func (c *Config) tunnelRoute() Route {
	return Route{Prefix: netip.PrefixFrom(c.TunnelEndpoint, 32), NextHop: c.TunnelIP}
}

// Gateway is the daemon's state and loop. One goroutine (Run) owns it.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	src      Source
	ann      Announcer
	rec      *reconciler
	flows    flowCache     // each floating IP's compiled flows, between syncs
	lastSync time.Duration // how long the last sync took
	ports    Ports

	macs         <-chan net.HardwareAddr
	resync       <-chan struct{}
	setNeighbour func(ctx context.Context, ip netip.Addr, mac string) error
	// neighbours are the static tunnel neighbours set, by address.
	neighbours map[netip.Addr]string

	records *Records
	// view is the last view synced.
	view *View
	// steer, counters and steerFn are the automatic steering's state and
	// connections (nil when off).
	steer    *steerer
	counters func(ctx context.Context) (map[netip.Addr]uint64, error)
	steerFn  func(ctx context.Context, fipID string, decide func(*PoolAssignment) *PoolAssignment) (bool, error)

	// served and skipped are the last view's, for logging changes only.
	served  map[string]string
	skipped map[string]string
	// synced is closed after the first successful sync (for tests).
	synced     chan struct{}
	syncedOnce bool
}

// Deps are the gateway's connections, real or fake.
type Deps struct {
	Source    Source
	Flows     FlowConn
	Announcer Announcer
	// Ports are the bridge's ports; UpstreamMAC may be nil, then MACs
	// (the resolver's results) fill it in.
	Ports  Ports
	MACs   <-chan net.HardwareAddr
	Resync <-chan struct{}
	// SetNeighbour, when set, sets a static tunnel neighbour (the
	// chassis' underlay MAC) before the first packet is tunnelled to it.
	SetNeighbour func(ctx context.Context, ip netip.Addr, mac string) error
	// Counters, for automatic steering, reads the packet counts of the
	// inbound flows by floating address (the bridge's flow stats).
	Counters func(ctx context.Context) (map[netip.Addr]uint64, error)
	// Steer, for automatic steering, runs one transaction on a floating
	// IP's pool record: decide gets the record as it is (nil: none) and
	// returns the one to write, or nil to write nothing. It reports
	// whether it wrote. It writes nothing for a floating IP that no
	// longer exists.
	Steer func(ctx context.Context, fipID string, decide func(*PoolAssignment) *PoolAssignment) (bool, error)
}

// New makes a gateway; cfg must be validated.
func New(cfg Config, d Deps, log *slog.Logger) *Gateway {
	g := &Gateway{cfg: cfg, log: log, src: d.Source, ann: d.Announcer,
		rec: &reconciler{conn: d.Flows, log: log}, ports: d.Ports, macs: d.MACs, resync: d.Resync,
		setNeighbour: d.SetNeighbour, neighbours: map[netip.Addr]string{},
		records: newRecords(), skipped: map[string]string{}, synced: make(chan struct{})}
	if cfg.Steering.Threshold > 0 {
		g.steer = newSteerer(cfg.Steering, cfg.Pool)
		g.counters, g.steerFn = d.Counters, d.Steer
	}
	return g
}

// Synced is closed once the gateway has compiled, installed and announced
// a complete view for the first time.
func (g *Gateway) Synced() <-chan struct{} { return g.synced }

// Run watches the store and keeps the flows and announcements in line
// with it until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan event, 256)
	for _, p := range watched {
		go g.src.Inform(ctx, 0, p, events, g.log)
	}
	for {
		err := g.rec.start(ctx)
		if err == nil {
			break
		}
		g.log.Warn("cannot read the bridge's flows; retrying", "err", err)
		if sleepCtx(ctx, time.Second); ctx.Err() != nil {
			return nil
		}
	}
	listed := map[string]bool{}
	var retry <-chan time.Time
	var tick <-chan time.Time
	if g.steer != nil {
		t := time.NewTicker(g.steer.cfg.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			g.fold(e, listed)
			// Take whatever else is queued before recompiling, and with
			// Coalesce what arrives within it.
			var hold <-chan time.Time
			if g.syncedOnce && g.cfg.Coalesce > 0 {
				// At least four times the last sync's duration: under a
				// stream of changes on a busy host, the gateway spends at
				// most a fifth of its time compiling.
				hold = time.After(min(max(g.cfg.Coalesce, 4*g.lastSync), 100*time.Millisecond))
			}
		fold:
			for {
				select {
				case e := <-events:
					g.fold(e, listed)
					continue
				default:
				}
				if hold == nil {
					break
				}
				select {
				case e := <-events:
					g.fold(e, listed)
				case <-hold:
					break fold
				case <-ctx.Done():
					return nil
				}
			}
		case mac := <-g.macs:
			if slices.Equal(mac, g.ports.UpstreamMAC) {
				continue
			}
			g.log.Info("upstream router resolved", "ip", g.cfg.UpstreamIP, "mac", mac.String())
			g.ports.UpstreamMAC = mac
		case <-g.resync:
			g.log.Warn("bridge lost its flows; reinstalling")
			clear(g.neighbours) // a restarted vswitchd forgot them too
			if err := g.rec.start(ctx); err != nil {
				g.log.Warn("resync", "err", err)
			}
		case <-retry:
		case <-tick:
			if len(listed) == len(watched) && g.syncedOnce {
				g.steerTick(ctx)
			}
			continue
		}
		if len(listed) < len(watched) {
			continue
		}
		began := time.Now()
		err := g.sync(ctx)
		g.lastSync = time.Since(began)
		if err != nil {
			g.log.Error("sync failed; retrying in 1s", "err", err)
			retry = time.After(time.Second)
			continue
		}
		retry = nil
		if !g.syncedOnce {
			g.syncedOnce = true
			close(g.synced)
		}
	}
}

func (g *Gateway) fold(e event, listed map[string]bool) {
	if e.Prefix == PoolPrefix && listed[PoolPrefix] {
		before := maps.Clone(g.records.Pools)
		g.records.apply(e, g.log)
		g.logMoves(before)
	} else {
		g.records.apply(e, g.log)
	}
	if e.Reset {
		listed[e.Prefix] = true
	}
}

// sync compiles the view into flows, installs them, then announces the
// floating IPs: the flows are in place before traffic is attracted.
func (g *Gateway) sync(ctx context.Context) error {
	v, skipped := BuildViewFor(g.records, g.cfg.Pool, g.cfg.Encaps)
	g.view = v
	g.logChanges(v, skipped)
	g.neighbour(ctx, v)
	flows, err := g.flows.flows(v, g.ports, g.rec.gen)
	if err != nil {
		return err
	}
	if err := g.rec.apply(ctx, flows); err != nil {
		return err
	}
	if err := g.ann.Set(ctx, v.routes(g.cfg.UplinkIP)); err != nil {
		return fmt.Errorf("gateway: announce: %w", err)
	}
	return nil
}

// neighbour sets the static tunnel neighbours of the view's chassis. A
// failure is logged, not fatal: OVS then resolves the chassis by ARP.
func (g *Gateway) neighbour(ctx context.Context, v *View) {
	if g.setNeighbour == nil {
		return
	}
	for _, f := range v.FIPs {
		if f.ChassisMAC == "" || g.neighbours[f.ChassisIP] == f.ChassisMAC {
			continue
		}
		if err := g.setNeighbour(ctx, f.ChassisIP, f.ChassisMAC); err != nil {
			g.log.Warn("static tunnel neighbour not set", "chassis", f.Chassis, "ip", f.ChassisIP, "err", err)
			continue
		}
		g.neighbours[f.ChassisIP] = f.ChassisMAC
		g.log.Debug("tunnel neighbour set", "chassis", f.Chassis, "ip", f.ChassisIP, "mac", f.ChassisMAC)
	}
}

// logChanges logs the floating IPs that started or stopped being served
// (all of them at the first sync) and those skipped with a new reason.
func (g *Gateway) logChanges(v *View, skipped []Skipped) {
	served := make(map[string]string, len(v.FIPs))
	for _, f := range v.FIPs {
		served[f.ID] = f.FloatingIP.String() + "->" + f.FixedIP.String() + "@" + f.Chassis
	}
	var added, removed []string
	for id, s := range served {
		if g.served[id] != s {
			added = append(added, s)
		}
	}
	for id, s := range g.served {
		if _, ok := served[id]; !ok {
			removed = append(removed, s)
		}
	}
	if len(added)+len(removed) > 0 {
		slices.Sort(added)
		slices.Sort(removed)
		const most = 20 // a line, not a dump, when thousands change at once
		g.log.Info("serving floating IPs", "count", len(served), "added", len(added), "removed", len(removed),
			"new", strings.Join(added[:min(len(added), most)], " "), "gone", strings.Join(removed[:min(len(removed), most)], " "))
	}
	g.served = served
	now := make(map[string]string, len(skipped))
	for _, s := range skipped {
		now[s.ID] = s.Reason
		if g.skipped[s.ID] != s.Reason {
			g.log.Info("floating IP not served", "id", s.ID, "reason", s.Reason)
		}
	}
	g.skipped = now
}
