package agent

import (
	"net"
	"net/netip"
	"sort"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// addRouters adds to v the routers with an interface on one of its
// networks, with the interfaces on networks the view holds.
func (s *state) addRouters(v *pipeline.View) {
	inView := map[string]bool{}
	for _, n := range v.Networks {
		inView[n.ID] = true
	}
	for _, r := range s.localRouters(inView) {
		vr := pipeline.Router{ID: r.ID, Key: s.routerKey(r.ID)}
		for _, pid := range r.Interfaces {
			netID := s.routerPortNet[pid]
			n := s.nets[netID]
			if n == nil || !inView[netID] {
				continue
			}
			p := n.ports[pid]
			if p == nil || len(p.FixedIPs) == 0 {
				continue
			}
			mac, err := net.ParseMAC(p.MACAddress)
			if err != nil {
				continue
			}
			for _, f := range p.FixedIPs {
				sub := n.subnets[f.SubnetID]
				a, err1 := netip.ParseAddr(f.IPAddress)
				if sub == nil || err1 != nil || !a.Is4() {
					continue
				}
				pfx, err := netip.ParsePrefix(sub.CIDR)
				if err != nil {
					continue
				}
				vr.Ports = append(vr.Ports, pipeline.RouterPort{NetworkID: netID, MAC: mac, Address: netip.PrefixFrom(a, pfx.Bits())})
			}
		}
		for _, rt := range r.Routes {
			dst, err1 := netip.ParsePrefix(rt.Destination)
			nh, err2 := netip.ParseAddr(rt.NextHop)
			if err1 == nil && err2 == nil {
				vr.Routes = append(vr.Routes, pipeline.Route{Destination: dst, NextHop: nh})
			}
		}
		if len(vr.Ports) > 0 {
			v.Routers = append(v.Routers, vr)
		}
	}
}

func (s *state) routerKey(id string) uint32 {
	k, ok := s.routerKeys[id]
	if !ok {
		k = uint32(len(s.routerKeys) + 1)
		s.routerKeys[id] = k
	}
	return k
}

func (s *state) sgKey(id string) uint16 {
	k, ok := s.sgKeys[id]
	if !ok {
		k = uint16(len(s.sgKeys)+1) & 0x7fff
		s.sgKeys[id] = k
	}
	return k
}

// addSecurityGroups turns on stateful security groups and adds every group
// the view's ports use, plus the groups their rules name as remote groups,
// with members taken from the view's ports. The view holds every port that
// can send to a local port directly (local and routed networks), so those
// are all the members that matter here.
func (s *state) addSecurityGroups(v *pipeline.View) {
	v.SecurityGroupsEnabled = true
	byGroup := map[string][]*model.SecurityGroupRule{}
	for _, r := range s.rules {
		byGroup[r.SecurityGroupID] = append(byGroup[r.SecurityGroupID], r)
	}
	members := map[string][]netip.Prefix{}
	used := map[string]bool{}
	for _, p := range v.Ports {
		for _, g := range p.SecurityGroups {
			used[g] = true
			for _, a := range p.IPs {
				members[g] = append(members[g], netip.PrefixFrom(a, a.BitLen()))
			}
			for _, ap := range p.AllowedAddressPairs {
				members[g] = append(members[g], ap.Prefix)
			}
		}
	}
	for g := range used {
		for _, r := range byGroup[g] {
			if r.RemoteGroupID != "" {
				used[r.RemoteGroupID] = true
			}
		}
	}
	ids := make([]string, 0, len(used))
	for g := range used {
		ids = append(ids, g)
	}
	sort.Strings(ids)
	for _, g := range ids {
		sg := pipeline.SecurityGroup{ID: g, Key: s.sgKey(g), Members: members[g]}
		rules := byGroup[g]
		sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
		for _, r := range rules {
			if vr, ok := convertRule(r); ok {
				sg.Rules = append(sg.Rules, vr)
			}
		}
		v.SecurityGroups = append(v.SecurityGroups, sg)
	}
}

// convertRule maps a Neutron rule onto the pipeline's.
func convertRule(r *model.SecurityGroupRule) (pipeline.SecurityGroupRule, bool) {
	vr := pipeline.SecurityGroupRule{Direction: pipeline.Direction(r.Direction), EtherType: r.EtherType,
		RemoteGroupID: r.RemoteGroupID}
	proto, ok := model.ProtocolNumber(r.Protocol)
	if !ok {
		return vr, false
	}
	vr.Protocol = proto
	if r.RemoteIPPrefix != "" {
		p, err := netip.ParsePrefix(r.RemoteIPPrefix)
		if err != nil {
			a, err := netip.ParseAddr(r.RemoteIPPrefix)
			if err != nil {
				return vr, false
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		vr.RemotePrefix = p.Masked()
	}
	switch proto {
	case model.ProtoICMP, model.ProtoICMPv6:
		if r.PortRangeMin != nil {
			t := uint8(*r.PortRangeMin)
			vr.ICMPType = &t
		}
		if r.PortRangeMax != nil {
			c := uint8(*r.PortRangeMax)
			vr.ICMPCode = &c
		}
	default:
		if r.PortRangeMin != nil {
			vr.PortMin = uint16(*r.PortRangeMin)
			vr.PortMax = vr.PortMin
		}
		if r.PortRangeMax != nil {
			vr.PortMax = uint16(*r.PortRangeMax)
		}
	}
	return vr, true
}
