package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/dhcp"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// handlePacketIn answers a DHCP, router solicitation or DHCPv6 message
// from a local VM (ipv6.go for the last two). The pipeline traps
// DHCP with one flow per network: the port is the one whose key is in the
// packet-in's metadata (a local port's key is its ofport, see state.view).
// A port without an address on a DHCP-enabled subnet gets no answer.
func (a *Agent) handlePacketIn(ctx context.Context, pin PacketIn) {
	kind, _, err := pipeline.ParseUserData(pin.UserData)
	if err != nil {
		a.log.Debug("packet-in: bad userdata", "userdata", pin.UserData, "err", err)
		return
	}
	port, nd, ofport := a.localPort(pin.PortKey)
	if port == nil {
		if kind == pipeline.PacketInDHCPv4 {
			countDHCP(false)
		}
		return
	}
	switch kind {
	case pipeline.PacketInDHCPv4:
		a.answerDHCPv4(ctx, pin, port, nd, ofport)
	case pipeline.PacketInRS:
		a.answerRS(ctx, pin, port, nd, ofport)
	case pipeline.PacketInDHCPv6:
		a.answerDHCPv6(ctx, pin, port, nd, ofport)
	default:
		a.log.Debug("packet-in: unknown kind", "kind", kind)
	}
}

// localPort finds the local port whose key (its ofport, see state.view)
// a packet-in carries, with its network and ofport; nil when none.
func (a *Agent) localPort(key uint32) (*model.Port, *netData, uint32) {
	if key == 0 {
		return nil, nil, 0
	}
	for _, i := range a.state.ifaces {
		if i.OFPort > 0 && uint32(i.OFPort) == key {
			if n := a.state.nets[a.state.portNet[i.IfaceID()]]; n != nil && n.ports[i.IfaceID()] != nil {
				return n.ports[i.IfaceID()], n, uint32(i.OFPort)
			}
			return nil, nil, 0
		}
	}
	return nil, nil, 0
}

// answerDHCPv4 answers a DHCPv4 request of a local port.
func (a *Agent) answerDHCPv4(ctx context.Context, pin PacketIn, port *model.Port, nd *netData, ofport uint32) {
	replied := false
	defer func() { countDHCP(replied) }()
	lookup := func(mac net.HardwareAddr) (dhcp.Lease, bool) {
		if mac.String() != port.MACAddress {
			return dhcp.Lease{}, false
		}
		return a.lease(port, nd)
	}
	reply, err := dhcp.Respond(pin.Data, lookup)
	if err != nil {
		a.log.Debug("dhcp: no answer", "port", port.ID, "err", err)
		return
	}
	if reply == nil {
		return
	}
	if err := a.sw.PacketOut(ctx, ofport, reply); err != nil {
		a.log.Warn("dhcp: packet-out", "port", port.ID, "err", err)
		return
	}
	replied = true
}

// lease builds the DHCP answer of a port from its first IPv4 address on a
// DHCP-enabled subnet.
func (a *Agent) lease(p *model.Port, nd *netData) (dhcp.Lease, bool) {
	for _, f := range p.FixedIPs {
		sub := nd.subnets[f.SubnetID]
		if sub == nil || !sub.EnableDHCP || sub.IPVersion == 6 {
			continue
		}
		ip, err1 := netip.ParseAddr(f.IPAddress)
		pfx, err2 := netip.ParsePrefix(sub.CIDR)
		if err1 != nil || err2 != nil || !ip.Is4() {
			continue
		}
		mac, _ := net.ParseMAC(p.MACAddress)
		l := dhcp.Lease{MAC: mac, IP: ip, Prefix: pfx, LeaseTime: 24 * time.Hour,
			DomainName: "openstacklocal", Hostname: hostname(ip), ServerMAC: a.cfg.DHCPServerMAC}
		if nd.network != nil {
			l.MTU = nd.network.MTU
		}
		if gw, err := netip.ParseAddr(sub.GatewayIP); err == nil {
			l.Router = gw
			l.ServerIP = gw
		} else {
			// No gateway: answer from the subnet's last address.
			l.ServerIP = lastAddr(pfx)
		}
		for _, d := range sub.DNSNameservers {
			if a, err := netip.ParseAddr(d); err == nil && a.Is4() {
				l.DNS = append(l.DNS, a)
			}
		}
		for _, hr := range sub.HostRoutes {
			dst, err1 := netip.ParsePrefix(hr.Destination)
			nh, err2 := netip.ParseAddr(hr.NextHop)
			if err1 == nil && err2 == nil && dst.Addr().Is4() {
				l.HostRoutes = append(l.HostRoutes, dhcp.Route{Dst: dst, NextHop: nh})
			}
		}
		if a.meta != nil {
			// The metadata service on link (the agent answers ARP for
			// it), as Neutron's isolated metadata: a router's network
			// reaches it through the router too.
			l.HostRoutes = append(l.HostRoutes, dhcp.Route{Dst: netip.PrefixFrom(pipeline.MetadataIP, 32), NextHop: netip.IPv4Unspecified()})
		}
		for _, o := range p.ExtraDHCPOpts {
			if o.IPVersion == 0 || o.IPVersion == 4 {
				l.Extra = append(l.Extra, dhcp.ExtraOpt{Name: o.OptName, Value: o.OptValue})
			}
		}
		return l, true
	}
	return dhcp.Lease{}, false
}

// hostname is Neutron's default DHCP host name for an address.
func hostname(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("host-%d-%d-%d-%d", b[0], b[1], b[2], b[3])
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= (1<<(32-p.Bits()) - 1)
	n-- // not the broadcast address
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
