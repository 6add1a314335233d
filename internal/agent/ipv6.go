package agent

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/dhcp6"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/ra"
)

// IPv6 services of the agent, as Neutron's radvd and dnsmasq give them: a
// router advertisement for every local port on a network with a subnet
// that has an ipv6_ra_mode (in answer to its solicitations, when it
// appears, and every RAInterval), and DHCPv6 answers on subnets with a
// DHCPv6 address mode.

// Lifetimes advertised, those of Neutron's radvd configuration.
const (
	raRouterLifetime = 1800 * time.Second
	raValidLifetime  = 86400 * time.Second
	raPrefLifetime   = 14400 * time.Second
	defaultRAEvery   = 60 * time.Second
)

// ipv6Subnets are the network's IPv6 subnets with DHCP enabled (Neutron
// serves no IPv6 mode on the others), ordered by id.
func ipv6Subnets(nd *netData) []*model.Subnet {
	var out []*model.Subnet
	for _, s := range nd.subnets {
		if p, err := netip.ParsePrefix(s.CIDR); err == nil && p.Addr().Is6() && s.EnableDHCP {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// advert is the router advertisement of a network; false when none of its
// subnets has an RA mode. It comes from the router's interface on those
// subnets (its MAC and link-local address, as a default router) when the
// network has one, else from the agent's service MAC, as a router of no
// default route (lifetime 0) that still hands out prefixes.
func (a *Agent) advert(nd *netData) (ra.Advert, bool) {
	adv := ra.Advert{SrcMAC: a.cfg.DHCPServerMAC, HopLimit: 64}
	if nd.network != nil {
		adv.MTU = nd.network.MTU
	}
	var prefixes []netip.Prefix
	for _, s := range ipv6Subnets(nd) {
		if s.IPv6RAMode == "" {
			continue
		}
		p, _ := netip.ParsePrefix(s.CIDR)
		p = p.Masked()
		prefixes = append(prefixes, p)
		pi := ra.Prefix{Prefix: p, OnLink: true, Valid: raValidLifetime, Preferred: raPrefLifetime}
		switch s.IPv6RAMode {
		case pipeline.ModeSLAAC:
			pi.Autonomous = true
		case pipeline.ModeStateless:
			pi.Autonomous, adv.Other = true, true
		case pipeline.ModeStateful:
			adv.Managed, adv.Other = true, true
		default:
			continue
		}
		adv.Prefixes = append(adv.Prefixes, pi)
		for _, d := range s.DNSNameservers {
			if ip, err := netip.ParseAddr(d); err == nil && ip.Is6() {
				adv.RDNSS = append(adv.RDNSS, ip)
			}
		}
	}
	if len(adv.Prefixes) == 0 {
		return ra.Advert{}, false
	}
	if len(adv.RDNSS) > 0 {
		adv.DNSSL = []string{"openstacklocal"}
	}
	if mac, ok := routerMAC(nd, prefixes); ok {
		adv.SrcMAC, adv.RouterLifetime = mac, raRouterLifetime
	}
	adv.SrcIP = ra.LinkLocal(adv.SrcMAC)
	return adv, true
}

// routerMAC is the MAC of the network's router interface with an address
// on one of prefixes, the lowest port id first.
func routerMAC(nd *netData, prefixes []netip.Prefix) (net.HardwareAddr, bool) {
	for _, p := range nd.sortedPorts() {
		if p.DeviceOwner != model.OwnerRouterInterface {
			continue
		}
		for _, f := range p.FixedIPs {
			ip, err := netip.ParseAddr(f.IPAddress)
			if err != nil {
				continue
			}
			for _, pf := range prefixes {
				if pf.Contains(ip) {
					if mac, err := net.ParseMAC(p.MACAddress); err == nil {
						return mac, true
					}
				}
			}
		}
	}
	return nil, false
}

// answerRS answers a router solicitation of a local port.
func (a *Agent) answerRS(ctx context.Context, pin PacketIn, port *model.Port, nd *netData, ofport uint32) {
	reply, err := ra.Respond(pin.Data, func(mac net.HardwareAddr) (ra.Advert, bool) {
		if mac.String() != port.MACAddress {
			return ra.Advert{}, false
		}
		return a.advert(nd)
	})
	if err != nil || reply == nil {
		a.log.Debug("ra: no answer", "port", port.ID, "err", err)
		return
	}
	if err := a.sw.PacketOut(ctx, ofport, reply); err != nil {
		a.log.Warn("ra: packet-out", "port", port.ID, "err", err)
	}
}

// answerDHCPv6 answers a DHCPv6 message of a local port.
func (a *Agent) answerDHCPv6(ctx context.Context, pin PacketIn, port *model.Port, nd *netData, ofport uint32) {
	reply, err := dhcp6.Respond(pin.Data, func(mac net.HardwareAddr) (dhcp6.Lease, bool) {
		if mac.String() != port.MACAddress {
			return dhcp6.Lease{}, false
		}
		return a.lease6(port, nd)
	})
	if err != nil || reply == nil {
		a.log.Debug("dhcp6: no answer", "port", port.ID, "err", err)
		return
	}
	if err := a.sw.PacketOut(ctx, ofport, reply); err != nil {
		a.log.Warn("dhcp6: packet-out", "port", port.ID, "err", err)
	}
}

// lease6 is a port's DHCPv6 answer: its address on the first
// dhcpv6-stateful subnet it has one on, or, on a dhcpv6-stateless subnet,
// the options alone.
func (a *Agent) lease6(p *model.Port, nd *netData) (dhcp6.Lease, bool) {
	l := dhcp6.Lease{ServerMAC: a.cfg.DHCPServerMAC, ServerIP: ra.LinkLocal(a.cfg.DHCPServerMAC),
		Preferred: raPrefLifetime, Valid: raValidLifetime}
	found := false
	for _, s := range ipv6Subnets(nd) {
		if s.IPv6AddressMode != pipeline.ModeStateful && s.IPv6AddressMode != pipeline.ModeStateless {
			continue
		}
		pfx, _ := netip.ParsePrefix(s.CIDR)
		if s.IPv6AddressMode == pipeline.ModeStateful {
			addr := netip.Addr{}
			for _, f := range p.FixedIPs {
				if f.SubnetID == s.ID {
					addr, _ = netip.ParseAddr(f.IPAddress)
				}
			}
			if !addr.Is6() || l.Address.IsValid() {
				continue
			}
			l.Address, l.Prefix = addr, pfx
		} else if !l.Prefix.IsValid() {
			l.Prefix = pfx
		}
		found = true
		for _, d := range s.DNSNameservers {
			if ip, err := netip.ParseAddr(d); err == nil && ip.Is6() {
				l.DNS = append(l.DNS, ip)
			}
		}
	}
	if found {
		l.DomainSearch = []string{"openstacklocal"}
	}
	return l, found
}

// advertise sends an unsolicited advertisement to the local ports of the
// networks that have one: every port when all is set (the periodic
// round), else only those not advertised to yet.
func (a *Agent) advertise(ctx context.Context, all bool) {
	seen := map[string]bool{}
	for _, i := range a.state.ifaces {
		id := i.IfaceID()
		nd := a.state.nets[a.state.portNet[id]]
		if i.OFPort <= 0 || nd == nil || nd.ports[id] == nil {
			continue
		}
		seen[id] = true
		if !all && a.advertised[id] {
			continue
		}
		adv, ok := a.advert(nd)
		if !ok {
			continue
		}
		frame, err := ra.Build(adv, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, ra.AllNodes)
		if err != nil {
			a.log.Debug("ra: build", "port", id, "err", err)
			continue
		}
		if err := a.sw.PacketOut(ctx, uint32(i.OFPort), frame); err != nil {
			a.log.Warn("ra: packet-out", "port", id, "err", err)
			continue
		}
		a.advertised[id] = true
	}
	for id := range a.advertised {
		if !seen[id] {
			delete(a.advertised, id)
		}
	}
}
