package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Distributed mode with BGP (issue 9, point 3): a chassis that NATs
// floating IPs itself — its own ports' (distributed), and a gateway
// chassis' centralized ones and router gateway addresses — announces each
// address it answers for on an external network (the view's Announce) as
// a /32 over BGP, with the chassis' external address on that network's
// physnet (Config.ExternalIPs) as next hop, the way Calico and
// ovn-bgp-agent expose addresses. The speaker is the embedded GoBGP of
// package bgp, the one `wyvern gateway` uses; Set withdraws what is no
// longer served here (disassociated, moved, failed over).
//
// The external address is a kernel address on the mapped bridge (br-ex):
// the BGP session runs over it and the upstream router resolves it by ARP
// to br-ex's MAC. Packets it routes to an announced address therefore
// reach br-ex addressed to br-ex itself, so the agent steers them into
// br-int on br-ex (exposeFlows): per announced address, a flow rewrites
// the destination MAC to the address' own (its floating IP's MAC, or the
// router gateway's) and outputs to the patch port to br-int, where the
// floating IP's NAT flows take it as if the router had ARPed for it.

// announcer is what the agent needs of its BGP speaker (a *bgp.Speaker).
type announcer interface {
	Set(ctx context.Context, routes []bgp.Route) error
}

// exposer is a switch that can steer traffic for announced addresses from
// a mapped bridge into br-int (the OVSSwitch).
type exposer interface {
	// Expose makes bridge's steering flows exactly those of addrs (address
	// → its MAC behind br-int).
	Expose(ctx context.Context, bridge string, addrs map[netip.Addr]net.HardwareAddr) error
}

// exposeCookie marks the agent's flows on a mapped bridge (never a
// pipeline cookie: those belong to br-int's reconciler), under
// exposeCookieMask; the bits outside the mask hold the generation of the
// connection that installed them (exposeGen), so that a restarted agent
// replaces its predecessor's flows in place and then sweeps only those it
// no longer wants: the steering never stops (graceful restart).
const (
	exposeCookie     uint64 = 0x57790000000000e1
	exposeCookieMask uint64 = 0xffff0000000000ff
)

// exposeGen is the cookie of generation gen.
func exposeGen(gen uint32) uint64 { return exposeCookie | uint64(gen)<<8 }

// prioExpose is above a mapped bridge's NORMAL flow.
const prioExpose = 200

// exposeFlows are the steering flows of a mapped bridge whose own MAC is
// bridgeMAC and whose patch port to br-int is patch, with cookie: IPv4 to an announced
// address, sent to the bridge's MAC (routed by the upstream router via the
// chassis' external address), goes to br-int with the address' MAC.
func exposeFlows(bridgeMAC net.HardwareAddr, patch uint32, addrs map[netip.Addr]net.HardwareAddr, cookie uint64) []ofp.Flow {
	keys := make([]netip.Addr, 0, len(addrs))
	for a := range addrs {
		if a.Is4() && len(addrs[a]) == 6 {
			keys = append(keys, a)
		}
	}
	slices.SortFunc(keys, func(x, y netip.Addr) int { return x.Compare(y) })
	out := make([]ofp.Flow, 0, len(keys))
	for _, a := range keys {
		out = append(out, ofp.Flow{Priority: prioExpose, Cookie: cookie,
			Match:   []ofp.Field{ofp.EthDst(bridgeMAC), ofp.EthType(ofp.EthTypeIPv4), ofp.IPDst(netip.PrefixFrom(a, 32))},
			Actions: []ofp.Action{ofp.SetField{Field: ofp.EthDst(addrs[a])}, ofp.Output{Port: patch}}})
	}
	return out
}

// announceBGP announces the addresses the last view answers for, each via
// the external address of its physnet, and steers them into br-int.
// Errors are returned for the loop to retry.
func (a *Agent) announceBGP(ctx context.Context) error {
	if a.speaker == nil {
		return nil
	}
	physnetOf := make(map[uint32]string, len(a.state.ext.ports))
	for physnet, port := range a.state.ext.ports {
		physnetOf[port] = physnet
	}
	var routes []bgp.Route
	byBridge := map[string]map[netip.Addr]net.HardwareAddr{}
	for physnet := range a.cfg.ExternalIPs {
		byBridge[a.cfg.BridgeMappings[physnet]] = map[netip.Addr]net.HardwareAddr{}
	}
	for addr, an := range a.state.announce {
		physnet := physnetOf[an.port]
		nh, ok := a.cfg.ExternalIPs[physnet]
		mac, err := net.ParseMAC(an.mac)
		if !ok || err != nil || !addr.Is4() {
			continue
		}
		routes = append(routes, bgp.Route{Prefix: netip.PrefixFrom(addr, 32), NextHop: nh})
		byBridge[a.cfg.BridgeMappings[physnet]][addr] = mac
	}
	if e, ok := a.sw.(exposer); ok {
		for bridge, addrs := range byBridge {
			if err := e.Expose(ctx, bridge, addrs); err != nil {
				return fmt.Errorf("agent: steer announced addresses on %s: %w", bridge, err)
			}
		}
	}
	// The flows are in place before the routes attract traffic.
	if err := a.speaker.Set(ctx, routes); err != nil {
		return fmt.Errorf("agent: announce: %w", err)
	}
	return nil
}
