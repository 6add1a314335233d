// Package model defines Wyvern's logical resources — networks, subnets,
// ports, routers, floating IPs, security groups and chassis — as they are
// stored in etcd and exchanged between the API server and the agents. The
// JSON field names are Neutron's, so an object serialises to its API form.
// The package does no I/O.
package model

import "time"

// Standard holds the standard attributes every Neutron resource carries.
type Standard struct {
	ID             string   `json:"id"`
	ProjectID      string   `json:"project_id"`
	TenantID       string   `json:"tenant_id"` // always equal to ProjectID
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Tags           []string `json:"tags"`
	CreatedAt      string   `json:"created_at"` // Timestamp
	UpdatedAt      string   `json:"updated_at"` // Timestamp
	RevisionNumber int64    `json:"revision_number"`
}

// TimeFormat is the layout of Neutron's timestamps (created_at,
// updated_at): RFC 3339 to the second, in UTC ("2026-11-21T11:45:47Z").
const TimeFormat = "2006-01-02T15:04:05Z"

// Timestamp formats t as Neutron does.
func Timestamp(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Std gives generic code (API list conventions, tags, revisions) access to
// the standard attributes of any resource.
func (s *Standard) Std() *Standard { return s }

// Object is any resource with standard attributes.
type Object interface{ Std() *Standard }

// Network is an L2 segment: a tenant overlay (geneve, vxlan) or a provider
// network (flat, vlan) reached through a bridge mapping.
type Network struct {
	Standard
	AdminStateUp    bool   `json:"admin_state_up"`
	Shared          bool   `json:"shared"`
	External        bool   `json:"router:external"`
	MTU             int    `json:"mtu"`
	NetworkType     string `json:"provider:network_type"`
	PhysicalNetwork string `json:"provider:physical_network"`
	SegmentationID  int    `json:"provider:segmentation_id"`
	Status          string `json:"status"`
	PortSecurity    bool   `json:"port_security_enabled"`
	// CTZone is the conntrack zone of the network's security groups,
	// allocated by the API from the one pool of network and router zones
	// (pipeline.ZoneMin..ZoneMax) when the network is created. Internal:
	// the Neutron API does not show it. 0: a record written before zones
	// were allocated, until a server starts and gives it one; agents
	// leave such a network out.
	CTZone int `json:"wyvern:ct_zone,omitempty"`
	// Subnets lists the network's subnet ids, kept in the same transaction
	// as the subnets themselves.
	Subnets []string `json:"subnets"`
}

// Pool is an inclusive range of addresses handed out by IPAM.
type Pool struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// HostRoute is a route pushed to VMs by DHCP (IPv4) or RA.
type HostRoute struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// Subnet is an IP prefix on a network.
type Subnet struct {
	Standard
	NetworkID       string      `json:"network_id"`
	IPVersion       int         `json:"ip_version"`
	CIDR            string      `json:"cidr"`
	GatewayIP       string      `json:"gateway_ip"`
	AllocationPools []Pool      `json:"allocation_pools"`
	DNSNameservers  []string    `json:"dns_nameservers"`
	HostRoutes      []HostRoute `json:"host_routes"`
	EnableDHCP      bool        `json:"enable_dhcp"`
	IPv6RAMode      string      `json:"ipv6_ra_mode,omitempty"`
	IPv6AddressMode string      `json:"ipv6_address_mode,omitempty"`
	// ServiceTypes restricts automatic allocation on the subnet to ports
	// of these device owners ("network:floatingip"); empty means any.
	ServiceTypes []string `json:"service_types,omitempty"`
}

// FixedIP is one address of a port on one subnet.
type FixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

// AddressPair is an extra MAC/IP (or prefix) a port may send from.
type AddressPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

// ExtraDHCPOpt is an additional DHCP option for one port.
type ExtraDHCPOpt struct {
	OptName   string `json:"opt_name"`
	OptValue  string `json:"opt_value"`
	IPVersion int    `json:"ip_version,omitempty"`
}

// Port is a VM's (or a router's, or DHCP's) attachment to a network.
type Port struct {
	Standard
	NetworkID           string         `json:"network_id"`
	AdminStateUp        bool           `json:"admin_state_up"`
	MACAddress          string         `json:"mac_address"`
	FixedIPs            []FixedIP      `json:"fixed_ips"`
	DeviceOwner         string         `json:"device_owner"`
	DeviceID            string         `json:"device_id"`
	Status              string         `json:"status"`
	SecurityGroups      []string       `json:"security_groups"`
	PortSecurityEnabled bool           `json:"port_security_enabled"`
	AllowedAddressPairs []AddressPair  `json:"allowed_address_pairs"`
	ExtraDHCPOpts       []ExtraDHCPOpt `json:"extra_dhcp_opts"`
	HostID              string         `json:"binding:host_id"`
	VIFType             string         `json:"binding:vif_type"`
	VNICType            string         `json:"binding:vnic_type"`
	VIFDetails          map[string]any `json:"binding:vif_details"`
	Profile             map[string]any `json:"binding:profile"`
}

// Port statuses, as Neutron names them.
const (
	StatusActive = "ACTIVE"
	StatusDown   = "DOWN"
	StatusBuild  = "BUILD"
	StatusError  = "ERROR"
)

// Device owners Wyvern gives meaning to.
const (
	OwnerRouterInterface = "network:router_interface"
	OwnerRouterGateway   = "network:router_gateway"
	OwnerFloatingIP      = "network:floatingip"
	OwnerDHCP            = "network:dhcp"
)

// ExternalFixedIP is the router's address on its external network.
type ExternalFixedIP struct {
	SubnetID  string `json:"subnet_id,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// GatewayInfo connects a router to an external network.
type GatewayInfo struct {
	NetworkID        string            `json:"network_id"`
	EnableSNAT       bool              `json:"enable_snat"`
	ExternalFixedIPs []ExternalFixedIP `json:"external_fixed_ips"`
}

// Route is a router's extra route.
type Route struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// Router joins subnets and, through its gateway, an external network.
type Router struct {
	Standard
	AdminStateUp bool         `json:"admin_state_up"`
	Status       string       `json:"status"`
	Gateway      *GatewayInfo `json:"external_gateway_info"`
	Routes       []Route      `json:"routes"`
	Distributed  bool         `json:"distributed"`
	HA           bool         `json:"ha"`
}

// FloatingIP maps an external address 1:1 onto a port's fixed address.
type FloatingIP struct {
	Standard
	FloatingNetworkID string `json:"floating_network_id"`
	FloatingIPAddress string `json:"floating_ip_address"`
	PortID            string `json:"port_id"`
	FixedIPAddress    string `json:"fixed_ip_address"`
	RouterID          string `json:"router_id"`
	Status            string `json:"status"`
}

// FloatingIPRecord is a floating IP as stored in etcd: the API object
// plus the id of the port holding its address on the external network,
// which the API does not show, and the floating IP's port forwardings
// (portforwarding.go).
type FloatingIPRecord struct {
	FloatingIP
	FloatingPort    string           `json:"floating_port_id"`
	PortForwardings []PortForwarding `json:"port_forwardings,omitempty"`
}

// SecurityGroup is a named set of rules applied to ports.
type SecurityGroup struct {
	Standard
	Stateful bool `json:"stateful"`
}

// SecurityGroupRule admits traffic in one direction. RemoteIPPrefix and
// RemoteGroupID are mutually exclusive; both empty admits any remote.
type SecurityGroupRule struct {
	Standard
	SecurityGroupID string `json:"security_group_id"`
	Direction       string `json:"direction"`
	EtherType       string `json:"ethertype"`
	Protocol        string `json:"protocol"`
	PortRangeMin    *int   `json:"port_range_min"`
	PortRangeMax    *int   `json:"port_range_max"`
	RemoteIPPrefix  string `json:"remote_ip_prefix"`
	RemoteGroupID   string `json:"remote_group_id"`
}

// Chassis is one hypervisor (or gateway) running a Wyvern agent, written by
// its agent at store.ChassisKey. The record stays when the agent dies, until
// an operator deletes the agent (DELETE /v2.0/agents/<id>); the agent's
// liveness is its heartbeat key (store.AliveKey), which is under the agent's
// lease and goes when the agent stops renewing it.
type Chassis struct {
	Name      string   `json:"name"`
	Hostname  string   `json:"hostname"`
	TunnelIP  string   `json:"tunnel_ip"`
	TunnelMAC string   `json:"tunnel_mac,omitempty"`
	Encaps    []string `json:"encaps"`
	Gateway   bool     `json:"gateway"`
	// BridgeMappings maps physical network names to bridges.
	BridgeMappings map[string]string `json:"bridge_mappings,omitempty"`
	// FIPMode says who serves the floating IPs of the chassis' ports:
	// FIPModeDistributed ("" too) or FIPModeEdge.
	FIPMode   string    `json:"fip_mode,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version"`
}

// Floating-IP modes of a chassis (Chassis.FIPMode).
const (
	// FIPModeDistributed: the chassis NATs its ports' floating IPs itself
	// when it reaches the external network, else the router's active
	// gateway chassis does (centralized).
	FIPModeDistributed = "distributed"
	// FIPModeEdge: the floating-IP edge layer (`wyvern gateway`) NATs
	// them; the chassis tunnels their outbound traffic to the edge.
	FIPModeEdge = "edge"
)

// RouterRecord is a router as stored in etcd: the API object plus the ports
// the server made for it (agents read the interfaces from here).
type RouterRecord struct {
	Router
	GatewayPort string   `json:"gw_port_id,omitempty"`
	Interfaces  []string `json:"interface_port_ids,omitempty"`
	// CTZone is the conntrack zone of the router's NAT, from the same
	// pool as the networks' (see Network.CTZone).
	CTZone int `json:"ct_zone,omitempty"`
}
