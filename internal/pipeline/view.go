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

	// Routers with a port on one of the view's networks. Routing is
	// distributed: every chassis with a local port on a router network
	// routes that port's traffic itself (see Router). Empty: no routing.
	Routers []Router
	// External networks (flat provider networks behind br-ex) the view's
	// routers have their gateway on. Empty: no floating IP nor SNAT.
	External []ExternalNetwork
	// FloatingIPs of ports in the view. Compiled on the chassis hosting the
	// port, when that chassis reaches the router's external network, or
	// (Centralized) on the router's active gateway chassis.
	FloatingIPs []FloatingIP
	// PortForwardings are the floating IPs whose ports are forwarded to
	// ports in the view (portforward.go).
	PortForwardings []PortForwarding

	// SecurityGroupsEnabled turns on the stateful ACL stages. False (the
	// zero value): EgressACL and IngressACL pass everything, as before
	// security groups existed. True: every local port with PortSecurity is
	// filtered by the rules of its SecurityGroups (a port with none only
	// gets replies to its own connections and the always-allowed traffic:
	// ARP, DHCP, ND, as Neutron does); ports with PortSecurity false skip
	// the ACLs.
	SecurityGroupsEnabled bool
	// SecurityGroups referenced by the local ports (directly or as a
	// remote group of one of their rules).
	SecurityGroups []SecurityGroup

	// Metadata is the chassis' metadata service (metadata.go); nil: none.
	Metadata *MetadataPort

	// Metering holds the metering labels that apply to the view's routers
	// (metering.go); empty: nothing is counted.
	Metering []MeteringLabel
}

// Router is a Neutron router: a distributed L3 datapath. The agent builds
// it from the router, its interfaces (ports with device_owner
// network:router_interface: their network, MAC and fixed IP with the
// subnet's prefix length), its routes and its external gateway.
type Router struct {
	ID string
	// Key is the router's datapath key (metadata in the L3 tables),
	// assigned by the caller, stable, non-zero and unique among routers.
	Key uint32
	// CTZone is the conntrack zone of the router's NAT; it must differ
	// from every network's CTZone. 0: 0xf000|(Key&0x0fff).
	CTZone uint16
	// Ports are the router's interfaces on tenant networks (one per
	// subnet).
	Ports []RouterPort
	// Routes are the router's extra routes. A route whose nexthop is not
	// the address of a port on one of the router's networks is ignored.
	Routes []Route
	// Gateway is the router's external gateway; nil when it has none.
	Gateway *RouterGateway
}

// RouterPort is one router interface.
type RouterPort struct {
	NetworkID string
	MAC       net.HardwareAddr
	// Address is the router's address with the subnet's prefix length,
	// e.g. 10.1.0.1/24: the gateway of that subnet.
	Address netip.Prefix
}

// Route is an extra route: Destination via NextHop (a port's address).
type Route struct {
	Destination netip.Prefix
	NextHop     netip.Addr
}

// RouterGateway is a router's port on an external network.
type RouterGateway struct {
	// NetworkID is the external network (View.External).
	NetworkID string
	MAC       net.HardwareAddr
	// Address is the gateway address with the external subnet's prefix
	// length, e.g. 203.0.113.2/24; it is the SNAT source address.
	Address netip.Prefix
	// SNAT is the gateway's enable_snat.
	SNAT bool
	// Chassis is the name of the router's active gateway chassis: the one
	// that SNATs traffic of ports without a floating IP (other chassis
	// tunnel that traffic to it), and routes its IPv6. Empty: none (no
	// SNAT, no IPv6 out).
	Chassis string
	// Address6 is the gateway's IPv6 address with the external IPv6
	// subnet's prefix length, e.g. 2001:db8:ffff::2/64: the router's
	// IPv6 way out, routed without NAT (ipv6gw.go). Invalid: none.
	// Address may be invalid when Address6 is not (an IPv6-only
	// external network).
	Address6 netip.Prefix
}

// ExternalNetwork is a flat provider network reached through a port of
// br-int to br-ex (a patch port: the chassis' bridge mapping).
type ExternalNetwork struct {
	ID string
	// Key is its datapath key (reg6), distinct from every Network's key.
	Key uint32
	// OFPort is br-int's port towards the network on this chassis; 0: the
	// chassis has no bridge mapping for it (no floating IP is served here,
	// and the chassis cannot be an active gateway).
	OFPort uint32
	// NextHopMAC is the MAC of the upstream router (the external subnet's
	// gateway), where routed traffic leaving through the network is sent.
	// nil: routed traffic cannot leave (nothing is compiled for it).
	NextHopMAC net.HardwareAddr
	// NextHopIP is the upstream router's address (the external subnet's
	// gateway_ip). Valid: on a chassis that NATs on the network, ARP
	// replies from it are sent to the controller (PacketInNextHop), which
	// resolves NextHopMAC by ARP and keeps it fresh.
	NextHopIP netip.Addr
	// NextHopIP6 is the upstream IPv6 router (the gateway_ip of the
	// external IPv6 subnet of the routers' gateways). Valid: on a chassis
	// reaching the network, its neighbour advertisements are sent to the
	// controller (PacketInNextHop), which resolves NextHopMAC6 by
	// Neighbour Discovery. NextHopMAC6 nil: no IPv6 leaves by the network.
	NextHopIP6  netip.Addr
	NextHopMAC6 net.HardwareAddr
}

// FloatingIP is a 1:1 NAT of a port's fixed address.
type FloatingIP struct {
	FloatingIP netip.Addr
	FixedIP    netip.Addr
	PortID     string
	// RouterID is the router whose gateway network holds FloatingIP.
	RouterID string
	// MAC answers ARP for FloatingIP and is the source MAC of its traffic
	// on the external network. nil: the router gateway's MAC. (A MAC per
	// floating IP, as OVN's external_mac, keeps the upstream switch from
	// seeing one MAC move between chassis.)
	MAC net.HardwareAddr
	// Centralized says the port's chassis does not reach the external
	// network: the router's active gateway chassis performs the NAT (DNAT
	// in, then routes to the port through its tunnel; the port's chassis
	// hands new outbound connections to the gateway, as for SNAT, and the
	// gateway translates them to FloatingIP). False: distributed, the
	// NAT happens on the port's chassis.
	Centralized bool
	// Edge says the floating-IP edge layer (`wyvern gateway`) serves it:
	// its port's chassis is in edge mode. No chassis NATs it; its port's
	// chassis, when local and given LocalChassis.EdgeEndpoint, tunnels the
	// port's outbound traffic leaving through the router's gateway to the
	// edge with the network's key (see edge.go), and inbound traffic
	// arrives by tunnel from any gateway like any tunnelled packet.
	Edge bool
}

// Direction of a security group rule, as Neutron spells it.
type Direction string

// Directions.
const (
	Ingress Direction = "ingress"
	Egress  Direction = "egress"
)

// SecurityGroup is a set of allow rules, stateful (replies are always
// allowed).
type SecurityGroup struct {
	ID string
	// Key names the group in conjunction ids: assigned by the caller,
	// stable, non-zero, below 0x8000 and unique among groups.
	Key uint16
	// Rules of the group.
	Rules []SecurityGroupRule
	// Members are the addresses of every port in the group (fixed IPs as
	// full-length prefixes, and allowed address pairs): what a rule with
	// this group as RemoteGroupID matches. Only needed for groups used as
	// a remote group.
	Members []netip.Prefix
}

// SecurityGroupRule allows traffic in one direction. Zero values are
// Neutron's nulls: any protocol, any port, any remote.
type SecurityGroupRule struct {
	Direction Direction
	// EtherType is "IPv4" or "IPv6".
	EtherType string
	// Protocol is the IP protocol number; 0: any.
	Protocol uint8
	// PortMin and PortMax bound the destination port for TCP, UDP (0, 0:
	// any; PortMax 0: PortMin only).
	PortMin, PortMax uint16
	// ICMPType and ICMPCode restrict ICMP and ICMPv6 rules (Neutron's
	// port_range_min and port_range_max for those protocols); nil: any.
	ICMPType, ICMPCode *uint8
	// RemotePrefix restricts the peer address (source for ingress,
	// destination for egress); invalid: any.
	RemotePrefix netip.Prefix
	// RemoteGroupID restricts the peer to the members of a group
	// (View.SecurityGroups); it takes precedence over RemotePrefix.
	RemoteGroupID string
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
	// EdgeEndpoint is the tunnel endpoint of the floating-IP edge layer
	// (the anycast /32 its gateways share, the seed's "TunnelNet"): where
	// a chassis in edge mode tunnels the outbound traffic of its floating
	// IPs (FloatingIP.Edge). Invalid: no edge (nothing is compiled for
	// edge floating IPs, whose outbound traffic then cannot leave).
	EdgeEndpoint netip.Addr
	// EdgeEncaps are the encapsulations the edge layer's gateways have
	// (their --encaps; nil: Geneve and VXLAN). A chassis tunnels its edge
	// floating IPs' traffic with the one a gateway chooses for it (the
	// gateway's chooseEncap): the network's own when both ends have it,
	// else the other one the chassis has, on the network's key.
	EdgeEncaps []Encap
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
	// SegmentationID is the tunnel key (VNI) on the wire; for a vlan
	// network, its 802.1Q VLAN id.
	SegmentationID uint32
	// Type is the Neutron provider:network_type. Only geneve and vxlan
	// networks are tunnelled; vlan and flat networks go over their
	// physical network (ProviderOFPort, provider.go); other types switch
	// between local ports only.
	Type string
	// ProviderOFPort is, for a vlan or flat network, br-int's port to the
	// bridge of its physical network on this chassis (the patch port of
	// the chassis' bridge mapping for its provider:physical_network); 0:
	// the chassis does not reach that physical network, and the network
	// switches between its local ports only.
	ProviderOFPort uint32
	MTU            int
	// CTZone is the conntrack zone of the network's security groups, the
	// same on every chassis, unique within the view and different from
	// every router's CTZone. 0: Key&0xffff.
	CTZone uint16
}

// Subnet is an IP prefix on a network.
type Subnet struct {
	ID         string
	NetworkID  string
	CIDR       netip.Prefix
	Gateway    netip.Addr // invalid when the subnet has no gateway
	EnableDHCP bool
	// IPv6RAMode and IPv6AddressMode are Neutron's ipv6_ra_mode and
	// ipv6_address_mode ("slaac", "dhcpv6-stateful", "dhcpv6-stateless" or
	// empty) of an IPv6 subnet: router solicitations are sent to the
	// agent when a subnet of the network has an RA mode, DHCPv6 client
	// traffic when one has a DHCPv6 address mode (see ipv6.go).
	IPv6RAMode, IPv6AddressMode string
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
	// SecurityGroups are the IDs of the port's security groups
	// (View.SecurityGroups); enforced when View.SecurityGroupsEnabled.
	SecurityGroups []string
	// Chassis is the name of the chassis the port is bound to; empty when
	// unbound. An unbound port's addresses are still answered by the ARP
	// responder, but nothing is forwarded to it.
	Chassis string
	// OFPort is the port's OpenFlow port number on the local br-int; only
	// meaningful (and required) when Chassis is the local chassis.
	OFPort uint32
	// QoS is what the port's QoS policy asks (qos.go); nil: nothing.
	QoS *PortQoS
}

// Validate reports inconsistencies Compile would silently skip: unknown
// networks, zero or duplicate keys, duplicate MACs or addresses on a
// network, local ports without an OpenFlow port, and conntrack zones
// shared by two networks or routers (NetworkZone, RouterZone). It does not
// need to pass for Compile to be safe; the agent compiles only views that
// pass, and logs the error of those that do not.
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
	zones := make(map[uint16]string, len(v.Networks)+len(v.Routers))
	useZone := func(z uint16, what string) {
		if z == 0 {
			errs = append(errs, fmt.Errorf("%s: conntrack zone 0", what))
		} else if other, ok := zones[z]; ok {
			errs = append(errs, fmt.Errorf("%s: conntrack zone %d already used by %s", what, z, other))
		}
		zones[z] = what
	}
	for i := range v.Networks {
		useZone(NetworkZone(&v.Networks[i]), "network "+v.Networks[i].ID)
	}
	for i := range v.Routers {
		useZone(RouterZone(&v.Routers[i]), "router "+v.Routers[i].ID)
	}
	for _, s := range v.Subnets {
		if !nets[s.NetworkID] {
			errs = append(errs, fmt.Errorf("subnet %s: unknown network %s", s.ID, s.NetworkID))
		}
	}
	portKeys := make(map[uint32]string, len(v.Ports))
	// Keys without strings: Validate runs on every view the agent builds.
	type macKey struct {
		net string
		mac [6]byte
	}
	type addrKey struct {
		net  string
		addr netip.Addr
	}
	macs := make(map[macKey]string, len(v.Ports))
	addrs := make(map[addrKey]string, len(v.Ports))
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
			k := macKey{net: p.NetworkID, mac: [6]byte(p.MAC)}
			if other, ok := macs[k]; ok {
				errs = append(errs, fmt.Errorf("port %s: MAC %s already used by %s", p.ID, p.MAC, other))
			}
			macs[k] = p.ID
		}
		for _, a := range p.IPs {
			k := addrKey{net: p.NetworkID, addr: a}
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
