// Package agent is Wyvern's local controller, one per hypervisor (chassis).
// It registers its chassis in etcd under a lease, binds the ports that
// appear on its br-int (the OpenStack convention: an OVS Interface with
// external_ids:iface-id), watches only the networks its local ports are on
// (selective distribution), compiles that view into OpenFlow flows with the
// pure pipeline compiler, and applies them through one idempotent
// reconciler. It answers DHCP, router solicitations and DHCPv6 for its own
// VMs, advertises their routers, and serves them metadata (--metadata).
//
// One goroutine (Agent.loop) owns all state; watchers, the OVSDB monitor and
// the packet-in reader only send it events.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/arp"
	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Config configures one agent.
type Config struct {
	Chassis  string     // unique chassis name (defaults to the hostname)
	TunnelIP netip.Addr // underlay address other chassis tunnel to
	// TunnelMAC is the MAC of the underlay interface holding TunnelIP,
	// published so that peers can pin their tunnel neighbour entry.
	TunnelMAC string
	Encaps    []pipeline.Encap
	// LeaseTTL bounds how long a dead agent's chassis stays registered.
	LeaseTTL time.Duration
	// TrimAfter returns the memory freed by a burst of work to the
	// operating system once the agent has been idle that long (as OVN's
	// controller trims malloc's free memory); 0 leaves it to the Go
	// runtime's background scavenger.
	TrimAfter time.Duration
	// StatsInterval is the least time between two writes of the chassis'
	// stats for the console (store.StatsKey; default 10 s): each sync may
	// change them, and at a thousand chassis their writes were the largest
	// share of etcd's writes at a cold start. The newest value is written
	// once the interval has passed.
	StatsInterval time.Duration
	// Coalesce, once the first view is installed, holds a recompile back
	// that long after the event that makes it necessary, folding in what
	// else arrives meanwhile: one API call's keys reach several informers
	// (a router interface: the router's copy on each network it joins, its
	// port), and one recompile then serves them all. 0: recompile as soon
	// as the queue is empty.
	Coalesce time.Duration
	// ControllerID is the OpenFlow controller id of packet-ins meant for us.
	ControllerID uint16
	// DHCPServerMAC is the source MAC of DHCP replies.
	DHCPServerMAC net.HardwareAddr
	// BridgeMappings maps provider physical networks to the bridges
	// (br-ex) that reach them; the agent patches each to br-int.
	BridgeMappings map[string]string
	// Gateway makes this chassis eligible as a routers' active gateway
	// (SNAT, centralized floating IPs) on the physnets it maps.
	Gateway bool
	// FIPMode is who serves the floating IPs of this chassis' ports:
	// model.FIPModeDistributed (the default) or model.FIPModeEdge, the
	// floating-IP edge layer, whose tunnel endpoint is EdgeEndpoint.
	FIPMode      string
	EdgeEndpoint netip.Addr
	// EdgeEncaps are the encapsulations of the edge layer's gateways
	// (their --encaps), so that this chassis tunnels to them with the one
	// they choose for it (pipeline.LocalChassis.EdgeEncaps); nil: learned
	// from their registrations (edge.go).
	EdgeEncaps []pipeline.Encap
	// BGP, when set (distributed mode), announces every address this
	// chassis NATs as a /32 with the chassis' external address on its
	// physnet (ExternalIPs: physnet → address, held by the mapped bridge's
	// interface) as next hop (see bgp.go). Its RouterID defaults to the
	// first external address.
	BGP         *bgp.Config
	ExternalIPs map[string]netip.Addr
	// NextHopTiming is the schedule of the ARP requests resolving the
	// upstream routers, which NextHopMACs overrides (see nexthop.go).
	NextHopTiming arp.Timing
	// NextHopMACs gives, per physnet, the MAC of the external subnet's
	// gateway (the upstream router), where traffic leaving through the
	// external network is sent.
	NextHopMACs map[string]net.HardwareAddr
	// RAInterval is the period of unsolicited router advertisements to
	// the local ports on networks with an IPv6 RA mode; 0: one minute.
	RAInterval time.Duration
	// MeteringInterval is how often the metering counters are read and
	// published (metering.go); 0: every 10 s.
	MeteringInterval time.Duration
	// Metadata serves 169.254.169.254 to the local ports (metadata.go),
	// proxied to NovaMetadataURL with the instance's headers signed with
	// MetadataSecret, or, without a Nova URL, from the ports themselves.
	Metadata        bool
	NovaMetadataURL string
	MetadataSecret  string
	// MetadataNetns is the network namespace of br-int's ports when it is
	// not the agent's (a test bed's chassis): the metadata interface and
	// listener go there.
	MetadataNetns string
}

// PacketIn is a packet the pipeline sent to the agent.
type PacketIn struct {
	InPort uint32
	// PortKey is the logical input port key (pipeline.InPortKeyField) in
	// the packet-in's metadata: the local port the packet came from, 0
	// when it did not come from one.
	PortKey  uint32
	UserData []byte
	Data     []byte
}

// FlowConn is the agent's OpenFlow side.
type FlowConn interface {
	// Bundle applies the changes atomically.
	Bundle(ctx context.Context, add, modify, del []ofp.Flow) error
	// Cookies returns the distinct cookies installed, with flow counts.
	Cookies(ctx context.Context) (map[uint64]int, error)
	// DeleteCookie removes every flow whose cookie equals c under mask.
	DeleteCookie(ctx context.Context, c, mask uint64) error
	PacketIns() <-chan PacketIn
	PacketOut(ctx context.Context, outPort uint32, data []byte) error
}

// Switch is the agent's Open vSwitch: br-int, its tunnel ports and
// interfaces, its flows.
type Switch interface {
	FlowConn
	// TunnelPorts returns the OpenFlow port numbers of geneve0/vxlan0 (0
	// when absent).
	TunnelPorts() (geneve, vxlan uint32)
	// Interfaces streams br-int's interfaces: one added event per present
	// interface, then changes.
	Interfaces(ctx context.Context) <-chan ovs.InterfaceEvent
	// PatchExternal joins br-int to an external bridge with a pair of
	// patch ports (idempotently) and returns br-int's side's OpenFlow port.
	PatchExternal(ctx context.Context, physnet, bridge string) (uint32, error)
	// SetTunnelNeighbor pins the underlay MAC of a peer's tunnel IP.
	SetTunnelNeighbor(ctx context.Context, ip netip.Addr, mac string) error
	// Resync signals that the bridge lost its flows (vswitchd restarted):
	// the agent reinstalls everything.
	Resync() <-chan struct{}
}

// Agent is one chassis' controller.
type Agent struct {
	cfg Config
	st  Store
	sw  Switch
	log *slog.Logger

	events chan event
	// Synced is closed once the first full view has been installed.
	synced     chan struct{}
	everSynced bool
	state      *state
	rec        *reconciler
	// meterKeys are the metering rules by key, for the counter reader.
	meterKeys meterKeysPtr
	meters    meterSet // QoS meters on br-int (qos.go)
	// nextHops resolves the upstream routers by ARP (nexthop.go).
	nextHops *nextHops
	// arpTimer is the loop's timer for ARP requests (set by loop).
	arpTimer *time.Timer
	// speaker announces the addresses NATed here over BGP (bgp.go); nil
	// without Config.BGP.
	speaker announcer
	// sections are the last compilation, reused by the next one.
	sections []pipeline.Section
	// pendingRouterPorts are router interface lookups in flight.
	pendingRouterPorts map[string]bool
	// fipStatusSent are floating IPs whose ACTIVE status is being written.
	fipStatusSent map[string]bool
	// announced are the external addresses gratuitous ARPs were sent for.
	announced map[netip.Addr]announcement
	// advertised are the local ports sent an unsolicited router
	// advertisement since they appeared (ipv6.go).
	advertised map[string]bool
	// meta is the metadata port, nil without the metadata service.
	meta *pipeline.MetadataPort
	obs  observer // metrics (metrics.go)
	// endpoint is how other chassis reach this one: written with every
	// binding (model.PortBinding.Endpoint).
	endpoint *model.Endpoint
}

// New returns an agent; Run starts it.
func New(cfg Config, st Store, sw Switch, log *slog.Logger) (*Agent, error) {
	if cfg.Chassis == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("agent: chassis name: %w", err)
		}
		cfg.Chassis = h
	}
	if !cfg.TunnelIP.IsValid() {
		return nil, errors.New("agent: a tunnel IP is required")
	}
	if len(cfg.Encaps) == 0 {
		cfg.Encaps = []pipeline.Encap{pipeline.EncapGeneve, pipeline.EncapVXLAN}
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.StatsInterval == 0 {
		cfg.StatsInterval = 10 * time.Second
	}
	if cfg.ControllerID == 0 {
		cfg.ControllerID = 0x5779
	}
	if cfg.DHCPServerMAC == nil {
		cfg.DHCPServerMAC = net.HardwareAddr{0x02, 0x57, 0x59, 0x00, 0x00, 0x01}
	}
	if cfg.RAInterval <= 0 {
		cfg.RAInterval = defaultRAEvery
	}
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.ValidateFIPs(); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, st: st, sw: sw, log: log.With("chassis", cfg.Chassis),
		events: make(chan event, 1024), synced: make(chan struct{}), pendingRouterPorts: map[string]bool{},
		fipStatusSent: map[string]bool{}, advertised: map[string]bool{}}
	a.state = newState(cfg.Chassis)
	a.state.scoped = !(cfg.Gateway && len(cfg.BridgeMappings) > 0)
	a.state.ext = extConfig{gateway: cfg.Gateway, mappings: cfg.BridgeMappings, ports: map[string]uint32{},
		nextHop: cfg.NextHopMACs, edge: cfg.FIPMode == model.FIPModeEdge}
	a.endpoint = model.EndpointOf(a.record())
	a.rec = newReconciler(sw, a.log)
	a.nextHops = newNextHops(cfg.Chassis, cfg.NextHopTiming)
	return a, nil
}

// Synced is closed when the first complete view is installed.
func (a *Agent) Synced() <-chan struct{} { return a.synced }

// Run registers the chassis and controls br-int until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for physnet, bridge := range a.cfg.BridgeMappings {
		port, err := a.sw.PatchExternal(ctx, physnet, bridge)
		if err != nil {
			return fmt.Errorf("agent: bridge mapping %s:%s: %w", physnet, bridge, err)
		}
		a.state.ext.ports[physnet] = port
	}
	hostname, _ := os.Hostname()
	rec := a.record()
	rec.Hostname, rec.StartedAt, rec.Version = hostname, time.Now().UTC(), "dev"
	err := register(ctx, a.st, rec, a.cfg.LeaseTTL)
	if err != nil {
		return err
	}
	if a.cfg.BGP != nil && a.speaker == nil {
		sp, err := bgp.Start(ctx, *a.cfg.BGP, a.log.With("component", "bgp"))
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		defer sp.Stop()
		a.speaker = sp
		a.log.Info("announcing the addresses NATed here over BGP", "as", a.cfg.BGP.LocalAS, "peers", len(a.cfg.BGP.Peers))
	}
	if err := a.rec.start(ctx); err != nil {
		return err
	}
	if a.cfg.Metadata {
		if err := a.startMetadata(ctx); err != nil {
			return err
		}
	}
	a.log.Info("agent started", "generation", a.rec.gen, "tunnel_ip", a.cfg.TunnelIP)

	// Feeders: each sends events to the loop and nothing else.
	go a.feedInterfaces(ctx)
	go a.feedPacketIns(ctx)
	// Of the other chassis, the agent follows the live gateways (few),
	// and learns the endpoints of the hosts of the ports it holds with
	// their bindings (refreshPeers): never every chassis' registration
	// and heartbeat, which made each chassis' start an event to all.
	go a.forward(ctx, watchGatewayChassis, store.GatewayChassisPrefix)
	// Routers and floating IPs come with the networks watched (their
	// scoped copies), rules with the security groups of the ports held;
	// a gateway chassis, which may serve any router with a gateway on
	// the physnets it maps, follows every router and floating IP.
	if a.state.scoped {
		a.state.routersReady, a.state.fipsReady = true, true
	} else {
		go a.forward(ctx, watchRouters, store.KindPrefix(store.KindRouters))
		go a.forward(ctx, watchFIPs, store.KindPrefix(store.KindFloatingIPs))
	}
	go a.forward(ctx, watchMeterLabels, store.KindPrefix(store.KindMeteringLabels))
	go a.forward(ctx, watchMeterRules, store.KindPrefix(store.KindMeteringRules))
	go a.meterCounters(ctx)
	go a.forward(ctx, watchQoS, store.KindPrefix(store.KindQoSPolicies))
	if a.cfg.learnsEdgeEncaps() {
		go a.forward(ctx, watchGateways, store.EdgeGatewayKey(""))
	}
	return a.loop(ctx)
}

// record is this chassis' registration, without what changes from one
// start to the next (hostname, start time, version).
func (a *Agent) record() model.Chassis {
	return model.Chassis{Name: a.cfg.Chassis, TunnelIP: a.cfg.TunnelIP.String(),
		TunnelMAC: a.cfg.TunnelMAC, Encaps: encapStrings(a.cfg.Encaps),
		Gateway: a.cfg.Gateway, BridgeMappings: a.cfg.BridgeMappings, FIPMode: a.cfg.FIPMode}
}

func encapStrings(es []pipeline.Encap) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e)
	}
	return out
}

// ValidateFIPs checks the floating-IP mode and its settings (edge
// endpoint, BGP, external addresses), filling defaults. New calls it; a
// command calls it first to refuse bad flags before connecting anywhere.
func (c *Config) ValidateFIPs() error {
	switch c.FIPMode {
	case "":
		c.FIPMode = model.FIPModeDistributed
	case model.FIPModeDistributed, model.FIPModeEdge:
	default:
		return fmt.Errorf("agent: floating-IP mode %q: want %s or %s", c.FIPMode, model.FIPModeDistributed, model.FIPModeEdge)
	}
	if c.FIPMode == model.FIPModeEdge && !c.EdgeEndpoint.Is4() {
		return fmt.Errorf("agent: edge mode needs the edge's IPv4 tunnel endpoint (got %q)", c.EdgeEndpoint)
	}
	if c.FIPMode != model.FIPModeEdge && c.EdgeEndpoint.IsValid() {
		return errors.New("agent: an edge tunnel endpoint is only used in edge mode")
	}
	for _, e := range c.EdgeEncaps {
		if e != pipeline.EncapGeneve && e != pipeline.EncapVXLAN {
			return fmt.Errorf("agent: edge encapsulation %q: want geneve or vxlan", e)
		}
	}
	for physnet, ip := range c.ExternalIPs {
		if c.BridgeMappings[physnet] == "" {
			return fmt.Errorf("agent: external address %s on physnet %s, which has no bridge mapping", ip, physnet)
		}
		if !ip.Is4() || ip.IsUnspecified() {
			return fmt.Errorf("agent: external address %q of physnet %s is not IPv4", ip, physnet)
		}
	}
	if c.BGP == nil {
		if len(c.ExternalIPs) > 0 {
			return errors.New("agent: external addresses are BGP next hops: configure BGP (a local AS) too")
		}
		return nil
	}
	if c.FIPMode == model.FIPModeEdge {
		return errors.New("agent: BGP announces the floating IPs a chassis NATs itself: distributed mode only (in edge mode the gateways announce them)")
	}
	if len(c.ExternalIPs) == 0 {
		return errors.New("agent: BGP needs the chassis' external address on a mapped physnet (the next hop of its announcements)")
	}
	if !c.BGP.RouterID.IsValid() {
		physnets := make([]string, 0, len(c.ExternalIPs))
		for p := range c.ExternalIPs {
			physnets = append(physnets, p)
		}
		slices.Sort(physnets)
		c.BGP.RouterID = c.ExternalIPs[physnets[0]]
	}
	if err := c.BGP.Validate(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}
