package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wyvern-sdn/wyvern/internal/arp"
	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// The upstream router of each external network this chassis reaches (its
// subnet's gateway_ip) is resolved by ARP (IPv6: by Neighbour Discovery,
// neighbourSolicitation and parseAdvertisement), as a router does, before the
// chassis NATs there: the view lists what to ask (logical.Result.Resolve:
// the target, and an address this chassis answers for there as sender,
// else an ARP probe from the chassis' ProbeMAC); the agent sends broadcast
// requests out of br-int's port to the network (packet-out), the pipeline
// hands the router's replies back from Classify (pipeline.PacketInNextHop),
// and the answer becomes the network's NextHopMAC at the next compilation.
// Until then nothing leaves by the network (no L3Out flow). A standby
// gateway thus knows the MAC when it takes a router over, and installs the
// NAT and the way out in one bundle. Answers are refreshed (arp.Resolver's
// schedule); --external-nexthop-mac overrides it per physnet.

// nextHops is the agent's resolver state; the loop owns it.
type nextHops struct {
	res *arp.Resolver
	// probeMAC is the source of the chassis' ARP probes: locally
	// administered, from a hash of the chassis name (ProbeMAC).
	probeMAC net.HardwareAddr
	// queries are the last view's, by target.
	queries map[netip.Addr]logical.NextHopQuery
	// holdUntil ends the first install's wait (awaitNextHops).
	holdUntil time.Time
}

func newNextHops(chassis string, t arp.Timing) *nextHops {
	return &nextHops{res: arp.NewResolver(t), probeMAC: ProbeMAC(chassis), queries: map[netip.Addr]logical.NextHopQuery{}}
}

// ProbeMAC is the MAC a chassis sends its ARP probes for upstream routers
// from (and receives the answers at) on external networks where it
// answers for no address yet: 0a:57 and 32 bits of the FNV-1a hash of its
// name (locally administered, unicast).
func ProbeMAC(chassis string) net.HardwareAddr {
	h := fnv.New32a()
	h.Write([]byte(chassis))
	s := h.Sum32()
	return net.HardwareAddr{0x0a, 0x57, byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
}

// want takes the last view's queries.
func (n *nextHops) want(qs []logical.NextHopQuery, now time.Time) {
	n.queries = make(map[netip.Addr]logical.NextHopQuery, len(qs))
	targets := make([]netip.Addr, 0, len(qs))
	for _, q := range qs {
		if _, dup := n.queries[q.Target]; !dup {
			n.queries[q.Target] = q
			targets = append(targets, q.Target)
		}
	}
	n.res.Want(targets, now)
}

// ask sends the requests due now and returns when the next is due (zero:
// none wanted).
func (a *Agent) askNextHops(ctx context.Context, now time.Time) time.Time {
	due := a.nextHops.res.Due(now)
	slices.SortFunc(due, func(x, y netip.Addr) int { return x.Compare(y) })
	for _, t := range due {
		q := a.nextHops.queries[t]
		var frame []byte
		var err error
		switch {
		case q.Target.Is6() && q.SrcIP.IsValid():
			var mac net.HardwareAddr
			if mac, err = net.ParseMAC(q.SrcMAC); err == nil {
				frame, err = neighbourSolicitation(mac, q.SrcIP, q.Target)
			}
		case q.Target.Is6():
			frame, err = neighbourSolicitation(a.nextHops.probeMAC, netip.IPv6Unspecified(), q.Target)
		case q.SrcIP.IsValid():
			var mac net.HardwareAddr
			if mac, err = net.ParseMAC(q.SrcMAC); err == nil {
				frame, err = arp.Request(mac, q.SrcIP, q.Target)
			}
		default:
			frame, err = arp.Probe(a.nextHops.probeMAC, q.Target)
		}
		if err != nil {
			continue
		}
		what := "ARP request for the upstream router"
		if q.Target.Is6() {
			what = "neighbour solicitation for the upstream router"
		}
		if err := a.sw.PacketOut(ctx, q.Port, frame); err != nil {
			a.log.Warn(what, "target", q.Target, "err", err)
			continue
		}
		a.log.Debug(what, "physnet", q.Physnet, "target", q.Target, "from", q.SrcIP,
			"probe", !q.SrcIP.IsValid())
	}
	return a.nextHops.res.Next()
}

// isNextHop reports whether a packet-in is an upstream router's ARP reply
// or neighbour advertisement (pipeline.PacketInNextHop).
func isNextHop(pin PacketIn) bool {
	kind, _, err := pipeline.ParseUserData(pin.UserData)
	return err == nil && kind == pipeline.PacketInNextHop
}

// handleNextHop takes an upstream router's ARP reply or neighbour
// advertisement (isNextHop). It reports whether a MAC changed (the view
// must be recompiled).
func (a *Agent) handleNextHop(pin PacketIn) bool {
	ip, mac, err := arp.ParseReply(pin.Data)
	if errors.Is(err, arp.ErrNotReply) {
		ip, mac, err = parseAdvertisement(pin.Data)
	}
	if err != nil {
		a.log.Debug("upstream router packet-in", "err", err)
		return false
	}
	if !a.nextHops.res.Answer(ip, mac, time.Now()) {
		return false
	}
	a.log.Info("upstream router resolved", "ip", ip, "mac", mac.String())
	a.state.ext.resolved = a.nextHops.res.MACs()
	return true
}

// scheduleARP sets the loop's ARP timer for next (nothing when zero).
func (a *Agent) scheduleARP(next time.Time) {
	if a.arpTimer == nil || next.IsZero() {
		return
	}
	a.arpTimer.Reset(max(time.Until(next), time.Millisecond))
}

// nextHopHoldMax bounds how long a restarted agent's first install waits
// for the upstream routers' MACs (awaitNextHops).
const nextHopHoldMax = 2 * time.Second

// errHeld is sync's answer while the first install waits (awaitNextHops):
// the loop tries again after this long, or at the next event.
type errHeld time.Duration

func (e errHeld) Error() string {
	return "agent: first install held for the upstream routers' MACs"
}

// awaitNextHops returns how long the first install must still wait, zero
// when it may go ahead. A restarted agent finds its predecessor's flows on
// br-int (reconciler.inherited), among them the way out to each upstream
// router; its own compilation has no way out until it has resolved the
// router again (no L3Out flow), so installing at once would drop the
// outbound traffic of every NATed address for an ARP round trip. The first
// install over inherited flows therefore waits until every upstream router
// of the view is resolved, or nextHopHoldMax has passed: meanwhile the
// inherited flows forward, and hand the routers' ARP replies to this agent
// (the controller id is the same).
func (a *Agent) awaitNextHops(ctx context.Context, now time.Time) time.Duration {
	if a.rec.synced || !a.rec.inherited || len(a.state.resolve) == 0 {
		return 0
	}
	if a.nextHops.holdUntil.IsZero() {
		a.nextHops.holdUntil = now.Add(nextHopHoldMax)
	}
	left := a.nextHops.holdUntil.Sub(now)
	if left <= 0 {
		return 0
	}
	macs := a.nextHops.res.MACs()
	for _, q := range a.state.resolve {
		if _, ok := macs[q.Target]; !ok {
			a.nextHops.want(a.state.resolve, now)
			a.scheduleARP(a.askNextHops(ctx, now))
			a.log.Debug("first install waits for the upstream routers' MACs", "target", q.Target, "at_most", left)
			return left
		}
	}
	return 0
}

// neighbourSolicitation is a neighbour solicitation for target from (mac,
// src), to target's solicited-node multicast address, with mac as source
// link-layer option. From the unspecified address (src ::, a probe that
// claims no address, as duplicate address detection does) it carries no
// option, and the target answers to all nodes.
func neighbourSolicitation(mac net.HardwareAddr, src, target netip.Addr) ([]byte, error) {
	if len(mac) != 6 || !src.Is6() || !target.Is6() || target.Is4In6() {
		return nil, fmt.Errorf("agent: bad neighbour solicitation fields (mac %v src %v target %v)", mac, src, target)
	}
	t := target.As16()
	snm := netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0xff, t[13], t[14], t[15]}, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: src.AsSlice(), DstIP: snm.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice()}
	if !src.IsUnspecified() {
		ns.Options = layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: mac}}
	}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip6, icmp, ns); err != nil {
		return nil, fmt.Errorf("agent: neighbour solicitation: %w", err)
	}
	return buf.Bytes(), nil
}

// errNotAdvertisement is parseAdvertisement's answer to a frame that is
// not a neighbour advertisement.
var errNotAdvertisement = errors.New("agent: not a neighbour advertisement")

// parseAdvertisement returns who a neighbour advertisement frame speaks
// for: its target address and the MAC of its target link-layer option
// (else the frame's source MAC). Only a valid advertisement (hop limit
// 255, code 0) counts.
func parseAdvertisement(b []byte) (netip.Addr, net.HardwareAddr, error) {
	var (
		eth  layers.Ethernet
		ip6  layers.IPv6
		icmp layers.ICMPv6
		na   layers.ICMPv6NeighborAdvertisement
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip6, &icmp, &na)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	if err := parser.DecodeLayers(b, &decoded); err != nil || len(decoded) != 4 {
		return netip.Addr{}, nil, errNotAdvertisement
	}
	if ip6.HopLimit != 255 || icmp.TypeCode != layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0) {
		return netip.Addr{}, nil, errNotAdvertisement
	}
	target, ok := netip.AddrFromSlice(na.TargetAddress)
	if !ok || !target.Is6() || target.IsMulticast() || target.IsUnspecified() {
		return netip.Addr{}, nil, fmt.Errorf("agent: neighbour advertisement for %v", na.TargetAddress)
	}
	mac := net.HardwareAddr(append([]byte(nil), eth.SrcMAC...))
	for _, o := range na.Options {
		if o.Type == layers.ICMPv6OptTargetAddress && len(o.Data) >= 6 {
			mac = append(mac[:0:0], o.Data[:6]...)
		}
	}
	if len(mac) != 6 || mac[0]&1 != 0 || string(mac) == string(make([]byte, 6)) {
		return netip.Addr{}, nil, fmt.Errorf("agent: neighbour advertisement for %s with bad MAC %s", target, mac)
	}
	return target, mac, nil
}

// unsolicitedAdvertisement is an unsolicited neighbour advertisement to
// all nodes that ip is at mac (Router and Override set, as a router's
// gateway port announces itself when it moves: RFC 4861 7.2.6).
func unsolicitedAdvertisement(mac string, ip netip.Addr) ([]byte, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || !ip.Is6() || ip.Is4In6() {
		return nil, fmt.Errorf("agent: unsolicited advertisement for %s at %q", ip, mac)
	}
	eth := &layers.Ethernet{SrcMAC: hw, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: ip.AsSlice(),
		DstIP: net.ParseIP("ff02::1")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	na := &layers.ICMPv6NeighborAdvertisement{Flags: 0x80 | 0x20, TargetAddress: ip.AsSlice(),
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: hw}}}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip6, icmp, na); err != nil {
		return nil, fmt.Errorf("agent: unsolicited advertisement: %w", err)
	}
	return buf.Bytes(), nil
}
