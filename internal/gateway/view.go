package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Records are the etcd records the gateway reads, by id (chassis by name).
type Records struct {
	FloatingIPs map[string]*model.FloatingIP
	Ports       map[string]*model.Port
	// Bindings are the ports' bindings (their mirrors), by port id: a
	// port's chassis is its binding's, over the record's.
	Bindings map[string]*model.PortBinding
	Networks map[string]*model.Network
	Subnets  map[string]*model.Subnet
	Chassis  map[string]*model.Chassis
	// Pools are the floating IPs steered out of DefaultPool, by id.
	Pools map[string]*PoolAssignment
	// Gateways are the running gateways' registrations, by name.
	Gateways map[string]*model.EdgeGateway
}

// poolAlive reports whether a registered gateway belongs to pool.
func (r *Records) poolAlive(pool string) bool {
	for _, g := range r.Gateways {
		if g.Pool == pool {
			return true
		}
	}
	return false
}

// View is everything the gateway's flows and announcements depend on,
// besides its own ports: the floating IPs it serves, sorted by address.
type View struct {
	FIPs []FIP
	// Outbound are the floating IPs of the other pools, sorted by
	// address: the gateway NATs their outbound traffic too (stateless,
	// any gateway can), so that the chassis' one anycast endpoint may be
	// shared by every pool's gateways and a steered address' replies
	// leave by whichever gateway the underlay picks. It neither takes
	// their inbound traffic nor announces them.
	Outbound []FIP
}

// FIP is one served floating IP with what its NAT flows need.
type FIP struct {
	ID         string
	FloatingIP netip.Addr
	FixedIP    netip.Addr
	// VMMAC is the MAC of the port the floating IP is associated with.
	VMMAC net.HardwareAddr
	// RouterMAC is the MAC of the router interface on the VM's subnet:
	// inbound packets reach the VM from its router, as routed packets do.
	RouterMAC net.HardwareAddr
	// Encap is the tunnel to the chassis, geneve or vxlan, chosen per
	// chassis (see chooseEncap).
	Encap string
	// TunnelKey is the tunnel id on the wire, the network's segmentation
	// id, which the chassis' Classify stage maps back to the network.
	TunnelKey uint32
	Chassis   string
	ChassisIP netip.Addr
	// ChassisMAC is the MAC of the chassis' underlay interface, when it
	// registered one: the static tunnel neighbour (no ARP on the underlay).
	ChassisMAC string
}

// Skipped says why a floating IP is not served.
type Skipped struct {
	ID, Reason string
}

// errNotEdge: the floating IP's port is on a chassis that does not use the
// edge (its fip_mode is not edge): that chassis, or its router's gateway
// chassis, NATs and announces it.
var errNotEdge = errors.New("chassis not in edge mode")

// BuildView computes the floating IPs a gateway of pool serves. Every
// floating IP with an associated port that is bound to a known chassis in
// edge mode (fip_mode edge) reachable by a tunnel is served by the
// gateways of its pool (see PoolAssignment); the others are listed with a
// reason (those with no port, of another pool, or on a chassis in
// distributed mode are not listed).
func BuildView(r *Records, pool string) (*View, []Skipped) {
	return BuildViewFor(r, pool, nil)
}

// BuildViewFor is BuildView for a gateway with tunnels of the given
// encapsulations (nil: geneve and vxlan).
func BuildViewFor(r *Records, pool string, encaps []string) (*View, []Skipped) {
	if encaps == nil {
		encaps = []string{"geneve", "vxlan"}
	}
	v := &View{}
	ifaces := routerInterfaces(r)
	var skipped []Skipped
	seen := map[netip.Addr]string{}
	var others []FIP
	for _, f := range associated(r.FloatingIPs) {
		fip, err := serve(r, f, encaps, ifaces)
		if errors.Is(err, errNotEdge) {
			continue
		}
		if r.poolOf(f.ID) != pool {
			if err == nil {
				others = append(others, fip)
			}
			continue
		}
		if err != nil {
			skipped = append(skipped, Skipped{ID: f.ID, Reason: err.Error()})
			continue
		}
		if other, dup := seen[fip.FloatingIP]; dup {
			skipped = append(skipped, Skipped{ID: f.ID, Reason: "address also held by floating IP " + other})
			continue
		}
		seen[fip.FloatingIP] = f.ID
		v.FIPs = append(v.FIPs, fip)
	}
	slices.SortFunc(v.FIPs, func(a, b FIP) int { return a.FloatingIP.Compare(b.FloatingIP) })
	// Another pool's address is NATed outbound unless its address or its
	// fixed address on its network is already one of ours.
	fixed := map[[2]any]bool{}
	for _, f := range v.FIPs {
		fixed[[2]any{f.TunnelKey, f.FixedIP}] = true
	}
	for _, f := range others {
		k := [2]any{f.TunnelKey, f.FixedIP}
		if _, dup := seen[f.FloatingIP]; dup || fixed[k] {
			continue
		}
		seen[f.FloatingIP], fixed[k] = f.ID, true
		v.Outbound = append(v.Outbound, f)
	}
	slices.SortFunc(v.Outbound, func(a, b FIP) int { return a.FloatingIP.Compare(b.FloatingIP) })
	return v, skipped
}

func serve(r *Records, f *model.FloatingIP, encaps []string, ifaces map[string][]*model.Port) (FIP, error) {
	out := FIP{ID: f.ID}
	var err error
	if out.FloatingIP, err = netip.ParseAddr(f.FloatingIPAddress); err != nil || !out.FloatingIP.Is4() {
		return out, fmt.Errorf("floating address %q is not IPv4", f.FloatingIPAddress)
	}
	if out.FixedIP, err = netip.ParseAddr(f.FixedIPAddress); err != nil || !out.FixedIP.Is4() {
		return out, fmt.Errorf("fixed address %q is not IPv4", f.FixedIPAddress)
	}
	port := r.Ports[f.PortID]
	if port == nil {
		return out, fmt.Errorf("port %s unknown", f.PortID)
	}
	if b := r.Bindings[port.ID]; b != nil {
		bound := *port
		b.Apply(&bound)
		port = &bound
	}
	if out.VMMAC, err = net.ParseMAC(port.MACAddress); err != nil {
		return out, fmt.Errorf("port %s: bad MAC %q", port.ID, port.MACAddress)
	}
	var subnetID string
	for _, ip := range port.FixedIPs {
		if ip.IPAddress == f.FixedIPAddress {
			subnetID = ip.SubnetID
		}
	}
	if subnetID == "" {
		return out, fmt.Errorf("port %s has no fixed address %s", port.ID, f.FixedIPAddress)
	}
	network := r.Networks[port.NetworkID]
	if network == nil {
		return out, fmt.Errorf("network %s unknown", port.NetworkID)
	}
	switch network.NetworkType {
	case "geneve", "vxlan":
		out.TunnelKey = uint32(network.SegmentationID)
	default:
		return out, fmt.Errorf("network %s is %q, not an overlay", network.ID, network.NetworkType)
	}
	if out.RouterMAC, err = routerMAC(r, ifaces[port.NetworkID], f.RouterID, subnetID); err != nil {
		return out, err
	}
	if port.HostID == "" {
		return out, fmt.Errorf("port %s is not bound", port.ID)
	}
	ch := r.Chassis[port.HostID]
	if ch == nil {
		return out, fmt.Errorf("chassis %s of port %s unknown", port.HostID, port.ID)
	}
	if ch.FIPMode != model.FIPModeEdge {
		return out, errNotEdge
	}
	if out.Encap = chooseEncap(network.NetworkType, ch.Encaps, encaps); out.Encap == "" {
		return out, fmt.Errorf("chassis %s has no tunnel this gateway has (chassis: %v, gateway: %v)", ch.Name, ch.Encaps, encaps)
	}
	if out.ChassisIP, err = netip.ParseAddr(ch.TunnelIP); err != nil || !out.ChassisIP.Is4() {
		return out, fmt.Errorf("chassis %s: tunnel address %q is not IPv4", ch.Name, ch.TunnelIP)
	}
	out.Chassis, out.ChassisMAC = ch.Name, ch.TunnelMAC
	return out, nil
}

// chooseEncap picks the encapsulation of the tunnel to a chassis, in
// both directions (the gateway tunnels inbound packets with it and takes
// the chassis' outbound packets from its tunnel port), as the seed's
// "encapsulation diversity" asks: the network's own type when the chassis
// supports it (a chassis that lists none supports both), else the first
// encapsulation the chassis lists that the gateway has; "" when they
// share none. The tunnel key is the network's segmentation id either way.
func chooseEncap(networkType string, chassis, gateway []string) string {
	if slices.Contains(gateway, networkType) && (len(chassis) == 0 || slices.Contains(chassis, networkType)) {
		return networkType
	}
	for _, e := range chassis {
		if (e == "geneve" || e == "vxlan") && slices.Contains(gateway, e) {
			return e
		}
	}
	return ""
}

// routerInterfaces lists the router interface ports of each network, by
// id.
func routerInterfaces(r *Records) map[string][]*model.Port {
	out := map[string][]*model.Port{}
	for _, p := range r.Ports {
		if p.DeviceOwner == model.OwnerRouterInterface {
			out[p.NetworkID] = append(out[p.NetworkID], p)
		}
	}
	for _, ps := range out {
		slices.SortFunc(ps, func(a, b *model.Port) int { return strings.Compare(a.ID, b.ID) })
	}
	return out
}

// routerMAC finds the MAC of the interface of router (any router when
// empty) on the subnet, among the router interfaces of the subnet's
// network (routerInterfaces): the port owned by the router with an
// address on the subnet, preferring the subnet's gateway address.
func routerMAC(r *Records, ifaces []*model.Port, router, subnetID string) (net.HardwareAddr, error) {
	var gw string
	if s := r.Subnets[subnetID]; s != nil {
		gw = s.GatewayIP
	}
	var best *model.Port
	bestGW := false
	for _, p := range ifaces {
		if router != "" && p.DeviceID != router {
			continue
		}
		for _, ip := range p.FixedIPs {
			if ip.SubnetID != subnetID {
				continue
			}
			isGW := ip.IPAddress == gw
			if best == nil || (isGW && !bestGW) {
				best, bestGW = p, isGW
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no router interface on subnet %s", subnetID)
	}
	mac, err := net.ParseMAC(best.MACAddress)
	if err != nil {
		return nil, fmt.Errorf("router port %s: bad MAC %q", best.ID, best.MACAddress)
	}
	return mac, nil
}

// associated lists the floating IPs with a port, by id.
func associated(m map[string]*model.FloatingIP) []*model.FloatingIP {
	out := make([]*model.FloatingIP, 0, len(m))
	for _, f := range m {
		if f.PortID != "" {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *model.FloatingIP) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// routes lists the routes of a view: each floating IP as a /32 via the
// uplink address.
func (v *View) routes(nexthop netip.Addr) []Route {
	out := make([]Route, 0, len(v.FIPs))
	for _, f := range v.FIPs {
		out = append(out, Route{Prefix: netip.PrefixFrom(f.FloatingIP, 32), NextHop: nexthop})
	}
	return out
}
