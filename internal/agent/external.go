package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// External networks, router gateways and floating IPs.
//
// A chassis reaches a provider (external) network through a bridge
// mapping, physnet → bridge (br-ex, made by the operator and holding the
// physical interface); the agent patches br-int to that bridge. A router
// with an external gateway needs, on every chassis that routes for it, the
// gateway port's MAC and address (the external network is watched like any
// other network: its ports are the gateway and floating IP ports) and its
// active gateway chassis.
//
// The active gateway is chosen without coordination: among the alive
// chassis (store.AliveKey, under each agent's lease) flagged gateway with a
// mapping for the external network's physnet, the one with the highest
// rendezvous hash of (router id, chassis name). Every agent sees the same
// chassis and heartbeats, so every agent picks the same one; when its
// heartbeat expires (its agent died: --lease-ttl) every agent moves to the
// next one, and only the routers that chassis held move. Failover takes at
// most the lease TTL (plus etcd's expiry scan, 0.5 s) and one watch
// round-trip and recompilation.

// fipRecord is a floating IP as the API stores it: the model plus the id
// of its port on the external network.
type fipRecord struct {
	model.FloatingIP
	FloatingPort string `json:"floating_port_id"`
}

// extConfig is this chassis' external side.
type extConfig struct {
	gateway bool
	// mappings: physnet → bridge.
	mappings map[string]string
	// ports: physnet → br-int's patch port to the mapped bridge.
	ports map[string]uint32
	// nextHop: physnet → MAC of the external subnet's gateway, when the
	// operator gave it.
	nextHop map[string]net.HardwareAddr
}

// rendezvous scores a chassis for a router: the highest score wins.
func rendezvous(routerID, chassis string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(routerID))
	h.Write([]byte{0})
	h.Write([]byte(chassis))
	return h.Sum64()
}

// canGateway reports whether a chassis can be the active gateway of a
// router on physnet: alive, flagged gateway, with a mapping for physnet.
func (s *state) canGateway(name, physnet string) bool {
	if !s.alive[name] || physnet == "" {
		return false
	}
	if name == s.chassis {
		return s.ext.gateway && s.ext.mappings[physnet] != ""
	}
	c, ok := s.peers[name]
	return ok && c.Gateway && c.BridgeMappings[physnet] != ""
}

// gatewayChassis is the router's active gateway chassis on physnet; "" when
// no chassis can be.
func (s *state) gatewayChassis(routerID, physnet string) string {
	best, bestScore := "", uint64(0)
	names := make([]string, 0, len(s.peers)+1)
	names = append(names, s.chassis)
	for n := range s.peers {
		names = append(names, n)
	}
	for _, n := range names {
		if !s.canGateway(n, physnet) {
			continue
		}
		if sc := rendezvous(routerID, n); best == "" || sc > bestScore || sc == bestScore && n < best {
			best, bestScore = n, sc
		}
	}
	return best
}

// reaches reports whether a chassis has a bridge mapping for physnet.
func (s *state) reaches(chassis, physnet string) bool {
	if chassis == s.chassis {
		return s.ext.ports[physnet] != 0
	}
	c, ok := s.peers[chassis]
	return ok && c.BridgeMappings[physnet] != ""
}

// gatewayNets adds to want what a gateway chassis watches: the external
// network of every router with a gateway (to learn its physnet) and, for
// the routers whose external network it maps (it may become their active
// gateway at any time), their interfaces' networks. unresolved collects
// interfaces whose network is unknown.
func (s *state) gatewayNets(want map[string]bool, unresolved *[]string) {
	if !s.ext.gateway || len(s.ext.mappings) == 0 {
		return
	}
	ids := make([]string, 0, len(s.routers))
	for id, r := range s.routers {
		if r.Gateway != nil && r.Gateway.NetworkID != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := s.routers[id]
		want[r.Gateway.NetworkID] = true
		ext := s.nets[r.Gateway.NetworkID]
		if ext == nil || ext.network == nil || s.ext.mappings[ext.network.PhysicalNetwork] == "" {
			continue
		}
		for _, pid := range r.Interfaces {
			netID, known := s.routerPortNet[pid]
			switch {
			case !known:
				*unresolved = append(*unresolved, pid)
			case netID != "":
				want[netID] = true
			}
		}
	}
}

// addExternal fills in the gateways of the view's routers, the external
// networks they are on and the floating IPs of the view's ports; it
// records which floating IPs this chassis NATs (programmedFIPs) and adds
// the active gateway chassis to usedPeers.
func (s *state) addExternal(v *pipeline.View, usedPeers map[string]bool) {
	s.programmedFIPs = map[string]bool{}
	s.announce = map[netip.Addr]announcement{}
	routers := map[string]*pipeline.Router{}
	physnets := map[string]string{} // external network → physnet
	extIdx := map[string]int{}
	for i := range v.Routers {
		vr := &v.Routers[i]
		r := s.routers[vr.ID]
		if r == nil || r.Gateway == nil {
			continue
		}
		ext := s.nets[r.Gateway.NetworkID]
		if ext == nil || ext.network == nil || !ext.ready() {
			continue
		}
		gwPort := ext.ports[r.GatewayPort]
		if gwPort == nil {
			continue
		}
		mac, err := net.ParseMAC(gwPort.MACAddress)
		if err != nil {
			continue
		}
		addr := s.v4Prefix(ext, gwPort.FixedIPs)
		if !addr.IsValid() {
			continue
		}
		physnet := ext.network.PhysicalNetwork
		chassis := s.gatewayChassis(r.ID, physnet)
		vr.Gateway = &pipeline.RouterGateway{NetworkID: ext.network.ID, MAC: mac, Address: addr,
			SNAT: r.Gateway.EnableSNAT, Chassis: chassis}
		if chassis != "" && chassis != s.chassis {
			usedPeers[chassis] = true
		}
		routers[vr.ID] = vr
		physnets[ext.network.ID] = physnet
		if port := s.ext.ports[physnet]; port != 0 && chassis == s.chassis && r.Gateway.EnableSNAT {
			s.announce[addr.Addr()] = announcement{mac: mac.String(), port: port}
		}
		if _, ok := extIdx[ext.network.ID]; !ok {
			extIdx[ext.network.ID] = len(v.External)
			v.External = append(v.External, pipeline.ExternalNetwork{ID: ext.network.ID, Key: s.networkKey(ext.network),
				OFPort: s.ext.ports[physnet], NextHopMAC: s.ext.nextHop[physnet]})
		}
	}
	if len(routers) == 0 {
		return
	}
	portChassis := make(map[string]string, len(v.Ports))
	for _, p := range v.Ports {
		portChassis[p.ID] = p.Chassis
	}
	for _, f := range sortedValues(s.fips) {
		vr := routers[f.RouterID]
		pc, inView := portChassis[f.PortID]
		if f.PortID == "" || vr == nil || !inView || pc == "" || vr.Gateway.NetworkID != f.FloatingNetworkID {
			continue
		}
		fip, err1 := netip.ParseAddr(f.FloatingIPAddress)
		fixed, err2 := netip.ParseAddr(f.FixedIPAddress)
		if err1 != nil || err2 != nil {
			continue
		}
		// The floating IP's own MAC (its port's), never the gateway's:
		// the gateway MAC must only ever come from the active gateway, or
		// the upstream switch learns it at the wrong chassis. Its port
		// and the floating IP arrive through different watches: wait for
		// the port.
		fp := s.nets[f.FloatingNetworkID].ports[f.FloatingPort]
		if fp == nil {
			continue
		}
		fmac, err := net.ParseMAC(fp.MACAddress)
		if err != nil {
			continue
		}
		vf := pipeline.FloatingIP{FloatingIP: fip, FixedIP: fixed, PortID: f.PortID, RouterID: f.RouterID, MAC: fmac}
		physnet := physnets[f.FloatingNetworkID]
		vf.Centralized = !s.reaches(pc, physnet)
		v.FloatingIPs = append(v.FloatingIPs, vf)
		extHere := v.External[extIdx[f.FloatingNetworkID]].OFPort != 0
		if extHere && (pc == s.chassis && !vf.Centralized || vf.Centralized && vr.Gateway.SNAT && vr.Gateway.Chassis == s.chassis) {
			s.programmedFIPs[f.ID] = true
			s.announce[fip] = announcement{mac: fmac.String(), port: v.External[extIdx[f.FloatingNetworkID]].OFPort}
		}
	}
}

// v4Prefix is the first IPv4 fixed address with its subnet's prefix
// length.
func (s *state) v4Prefix(n *netData, ips []model.FixedIP) netip.Prefix {
	for _, f := range ips {
		a, err := netip.ParseAddr(f.IPAddress)
		sub := n.subnets[f.SubnetID]
		if err != nil || !a.Is4() || sub == nil {
			continue
		}
		if p, err := netip.ParsePrefix(sub.CIDR); err == nil {
			return netip.PrefixFrom(a, p.Bits())
		}
	}
	return netip.Prefix{}
}

// handleFIPs folds a floating IP watch event in.
func (s *state) handleFIPs(e kvEvent) {
	foldRecords(&s.fips, e, store.KindPrefix(store.KindFloatingIPs))
	s.fipsReady = s.fipsReady || e.Reset
}

// handleAlive folds a heartbeat watch event in.
func (s *state) handleAlive(e kvEvent) {
	if e.Reset {
		s.alive = map[string]bool{}
		s.aliveReady = true
	}
	for _, kv := range e.KVs {
		name := strings.TrimPrefix(kv.Key, store.AliveKey(""))
		if e.Delete {
			delete(s.alive, name)
		} else {
			s.alive[name] = true
		}
	}
}

// updateFIPStatus marks ACTIVE the floating IPs this chassis has just
// programmed, once each, in one transaction per floating IP. Only the
// status (and the revision) changes; every other stored field is kept.
func (a *Agent) updateFIPStatus(ctx context.Context) {
	for id := range a.state.programmedFIPs {
		f := a.state.fips[id]
		if f == nil || f.Status == model.StatusActive || a.fipStatusSent[id] {
			continue
		}
		a.fipStatusSent[id] = true
		portID := f.PortID
		go func() {
			err := updateJSON(ctx, a.st, store.ObjectKey(store.KindFloatingIPs, id), func(rec *map[string]json.RawMessage) (bool, error) {
				var cur struct {
					Status   string `json:"status"`
					PortID   string `json:"port_id"`
					Revision int64  `json:"revision_number"`
				}
				b, err := json.Marshal(*rec)
				if err == nil {
					err = json.Unmarshal(b, &cur)
				}
				if err != nil {
					return false, err
				}
				if cur.Status == model.StatusActive || cur.PortID != portID {
					return false, nil
				}
				(*rec)["status"], _ = json.Marshal(model.StatusActive)
				(*rec)["revision_number"], _ = json.Marshal(cur.Revision + 1)
				(*rec)["updated_at"], _ = json.Marshal(model.Timestamp(time.Now()))
				return true, nil
			})
			if err != nil && ctx.Err() == nil {
				a.log.Warn("floating IP status", "floatingip", id, "err", err)
			}
		}()
	}
	for id := range a.fipStatusSent {
		if f := a.state.fips[id]; f == nil || f.Status == model.StatusActive {
			delete(a.fipStatusSent, id)
		}
	}
}

// announcement is an external address this chassis answers for: its MAC
// and the br-int port of its external network.
type announcement struct {
	mac  string
	port uint32
}

// garpRepeats are the delays of the gratuitous ARPs sent for an address
// that starts being served here.
var garpRepeats = []time.Duration{0, 300 * time.Millisecond, time.Second}

// announce sends gratuitous ARPs for the external addresses that started
// being served here (a floating IP associated or moved here, a gateway
// that failed over): the upstream switch learns the MAC's new place and
// the upstream router updates its neighbour entry at once, instead of
// sending to the old chassis until its entry expires.
func (a *Agent) announce(ctx context.Context) {
	for ip, an := range a.state.announce {
		if a.announced[ip] == an {
			continue
		}
		frame, err := garp(ip, an.mac)
		if err != nil {
			continue
		}
		go func() {
			for _, d := range garpRepeats {
				sleepCtx(ctx, d)
				if ctx.Err() != nil {
					return
				}
				if err := a.sw.PacketOut(ctx, an.port, frame); err != nil {
					a.log.Warn("gratuitous ARP", "ip", ip, "err", err)
					return
				}
			}
		}()
	}
	a.announced = a.state.announce
}

// garp builds a gratuitous ARP request: ip is at mac, broadcast.
func garp(ip netip.Addr, mac string) ([]byte, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || !ip.Is4() {
		return nil, fmt.Errorf("agent: gratuitous ARP for %s at %q", ip, mac)
	}
	b := make([]byte, 0, 42)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b = append(b, hw...)
	b = append(b, 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1)
	a4 := ip.As4()
	b = append(b, hw...)
	b = append(b, a4[:]...)
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = append(b, a4[:]...)
	return b, nil
}
