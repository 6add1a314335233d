package pipeline

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Encap is a tunnel encapsulation between chassis.
type Encap string

// Encapsulations Wyvern tunnels with. A network of type geneve (vxlan) is
// carried over geneve0 (vxlan0) with its segmentation id as the tunnel key.
const (
	EncapGeneve Encap = "geneve"
	EncapVXLAN  Encap = "vxlan"
)

// View is everything one chassis' agent knows that its flows depend on: the
// part of the logical topology its local ports can reach. It is plain data
// (the agent builds it from the store and OVSDB); Compile turns it into
// flows. Numeric keys are assigned by the caller and must be stable across
// compilations, or every recompilation rewrites flows for nothing.
type View struct {
	// Local is the chassis this view is compiled for.
	Local LocalChassis
	// Remote lists the other chassis that hold ports on the view's networks.
	Remote []RemoteChassis
	// Networks the local chassis serves. A network with no port bound on
	// this chassis produces no flow.
	Networks []Network
	// Subnets of those networks.
	Subnets []Subnet
	// Ports on those networks, wherever bound.
	Ports []Port

	// Later issues add here, as plain data like the above: Routers (router
	// ports, routes, gateway), SecurityGroups (rules and remote-group member
	// sets) and NAT (floating IPs, SNAT), with the L3 and ACL stages that
	// consume them. They are deliberately absent today.
}

// LocalChassis is the chassis whose br-int is being programmed.
type LocalChassis struct {
	Name     string
	TunnelIP netip.Addr
	// GeneveOFPort and VXLANOFPort are the OpenFlow port numbers of br-int's
	// geneve0 and vxlan0 flow-based tunnel ports; 0 means the port is absent
	// (no tunnel of that kind is set up).
	GeneveOFPort uint32
	VXLANOFPort  uint32
}

// RemoteChassis is another hypervisor reachable through a tunnel.
type RemoteChassis struct {
	Name     string
	TunnelIP netip.Addr
	// Encaps the chassis can terminate. A network is tunnelled to a chassis
	// only when the chassis supports the network's encapsulation.
	Encaps []Encap
}

// Network is an L2 segment.
type Network struct {
	ID string
	// Key is the local datapath key (reg6), assigned by the caller, stable,
	// non-zero and unique within the view.
	Key uint32
	// SegmentationID is the tunnel key (VNI) on the wire.
	SegmentationID uint32
	// Type is the Neutron provider:network_type. Only geneve and vxlan
	// networks are tunnelled; other types switch between local ports only.
	Type string
	MTU  int
}

// Subnet is an IP prefix on a network.
type Subnet struct {
	ID         string
	NetworkID  string
	CIDR       netip.Prefix
	Gateway    netip.Addr // invalid when the subnet has no gateway
	EnableDHCP bool
}

// AddressPair is an extra source a port may send from: an address or a
// prefix, optionally with its own MAC (nil: the port's MAC).
type AddressPair struct {
	Prefix netip.Prefix
	MAC    net.HardwareAddr
}

// Port is a logical port on a network.
type Port struct {
	ID        string
	NetworkID string
	// Key is the logical port key (reg5 on ingress from the VM), assigned
	// by the caller, stable, non-zero and unique within the view.
	Key uint32
	MAC net.HardwareAddr
	// IPs are the fixed addresses, IPv4 and IPv6.
	IPs                 []netip.Addr
	AllowedAddressPairs []AddressPair
	PortSecurity        bool
	// Chassis is the name of the chassis the port is bound to; empty when
	// unbound. An unbound port's addresses are still answered by the ARP
	// responder, but nothing is forwarded to it.
	Chassis string
	// OFPort is the port's OpenFlow port number on the local br-int; only
	// meaningful (and required) when Chassis is the local chassis.
	OFPort uint32
}

// Validate reports inconsistencies Compile would silently skip: unknown
// networks, zero or duplicate keys, duplicate MACs or addresses on a
// network, local ports without an OpenFlow port. It does not need to pass
// for Compile to be safe; it is for the caller's logs and tests.
func (v *View) Validate() error {
	var errs []error
	nets := make(map[string]bool, len(v.Networks))
	netKeys := make(map[uint32]string, len(v.Networks))
	for _, n := range v.Networks {
		if n.Key == 0 {
			errs = append(errs, fmt.Errorf("network %s: zero key", n.ID))
		}
		if other, ok := netKeys[n.Key]; ok {
			errs = append(errs, fmt.Errorf("network %s: key %d already used by %s", n.ID, n.Key, other))
		}
		netKeys[n.Key] = n.ID
		nets[n.ID] = true
	}
	for _, s := range v.Subnets {
		if !nets[s.NetworkID] {
			errs = append(errs, fmt.Errorf("subnet %s: unknown network %s", s.ID, s.NetworkID))
		}
	}
	portKeys := make(map[uint32]string, len(v.Ports))
	macs := make(map[string]string, len(v.Ports))
	addrs := make(map[string]string, len(v.Ports))
	for _, p := range v.Ports {
		if !nets[p.NetworkID] {
			errs = append(errs, fmt.Errorf("port %s: unknown network %s", p.ID, p.NetworkID))
		}
		if p.Key == 0 {
			errs = append(errs, fmt.Errorf("port %s: zero key", p.ID))
		}
		if other, ok := portKeys[p.Key]; ok {
			errs = append(errs, fmt.Errorf("port %s: key %d already used by %s", p.ID, p.Key, other))
		}
		portKeys[p.Key] = p.ID
		if len(p.MAC) != 6 {
			errs = append(errs, fmt.Errorf("port %s: bad MAC %q", p.ID, p.MAC))
		} else {
			k := p.NetworkID + "/" + p.MAC.String()
			if other, ok := macs[k]; ok {
				errs = append(errs, fmt.Errorf("port %s: MAC %s already used by %s", p.ID, p.MAC, other))
			}
			macs[k] = p.ID
		}
		for _, a := range p.IPs {
			k := p.NetworkID + "/" + a.String()
			if other, ok := addrs[k]; ok {
				errs = append(errs, fmt.Errorf("port %s: address %s already used by %s", p.ID, a, other))
			}
			addrs[k] = p.ID
		}
		if p.Chassis == v.Local.Name && p.Chassis != "" && p.OFPort == 0 {
			errs = append(errs, fmt.Errorf("port %s: bound locally without an OpenFlow port", p.ID))
		}
	}
	return errors.Join(errs...)
}
