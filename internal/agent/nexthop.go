package agent

import (
	"context"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/arp"
	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// The upstream router of each external network this chassis reaches (its
// subnet's gateway_ip) is resolved by ARP, as a router does, before the
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
		if q.SrcIP.IsValid() {
			var mac net.HardwareAddr
			if mac, err = net.ParseMAC(q.SrcMAC); err == nil {
				frame, err = arp.Request(mac, q.SrcIP, q.Target)
			}
		} else {
			frame, err = arp.Probe(a.nextHops.probeMAC, q.Target)
		}
		if err != nil {
			continue
		}
		if err := a.sw.PacketOut(ctx, q.Port, frame); err != nil {
			a.log.Warn("ARP request for the upstream router", "target", q.Target, "err", err)
			continue
		}
		a.log.Debug("ARP request for the upstream router", "physnet", q.Physnet, "target", q.Target, "from", q.SrcIP,
			"probe", !q.SrcIP.IsValid())
	}
	return a.nextHops.res.Next()
}

// isNextHop reports whether a packet-in is an upstream router's ARP reply
// (pipeline.PacketInNextHop).
func isNextHop(pin PacketIn) bool {
	kind, _, err := pipeline.ParseUserData(pin.UserData)
	return err == nil && kind == pipeline.PacketInNextHop
}

// handleNextHop takes an upstream router's ARP reply (isNextHop). It
// reports whether a MAC changed (the view must be recompiled).
func (a *Agent) handleNextHop(pin PacketIn) bool {
	ip, mac, err := arp.ParseReply(pin.Data)
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
