package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// External networks, router gateways and floating IPs: the translation
// (gateway election included) is logical's (see logical/external.go);
// here are what the agent watches for them, the floating IP status it
// writes and the gratuitous ARPs it sends.

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
	// resolved: the upstream routers' MACs resolved by ARP, by address.
	resolved map[netip.Addr]net.HardwareAddr
	// edge: the chassis is in edge mode.
	edge bool
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

// handleFIPs folds a floating IP watch event in.
func (s *state) handleFIPs(e kvEvent) {
	foldRecords(&s.fips, e, store.KindPrefix(store.KindFloatingIPs))
	s.fipsReady = s.fipsReady || e.Reset
}

// updateFIPStatus reports the floating IPs this chassis has just
// programmed, once each, in its own key per floating IP
// (store.FIPStatusKey); the server marks them ACTIVE.
func (a *Agent) updateFIPStatus(ctx context.Context) {
	for id := range a.state.programmedFIPs {
		f := a.state.fips[id]
		if f == nil || f.Status == model.StatusActive || a.fipStatusSent[id] {
			continue
		}
		a.fipStatusSent[id] = true
		portID := f.PortID
		go func() {
			// Reported in this chassis' own key: the server marks the
			// floating IP ACTIVE (store.ApplyFIPStatuses).
			err := a.st.Update(ctx, store.FIPStatusKey(a.cfg.Chassis, id), func([]byte) ([]byte, error) {
				return json.Marshal(store.FIPStatusReport{PortID: portID})
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

// announce sends gratuitous ARPs (IPv6: unsolicited neighbour
// advertisements) for the external addresses that started being served
// here (a floating IP associated or moved here, a gateway that failed
// over): the upstream switch learns the MAC's new place and the upstream
// router updates its neighbour entry at once, instead of sending to the
// old chassis until its entry expires.
func (a *Agent) announce(ctx context.Context) {
	for ip, an := range a.state.announce {
		if a.announced[ip] == an {
			continue
		}
		frame, err := garp(ip, an.mac)
		if ip.Is6() {
			frame, err = unsolicitedAdvertisement(an.mac, ip)
		}
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
					a.log.Warn("gratuitous ARP or unsolicited advertisement", "ip", ip, "err", err)
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
