// Package store is Wyvern's typed access to etcd, and the only package
// that talks to it (package storetest starts one for tests): the key
// layout of the logical model, transactions guarded by revisions (every
// logical change is one etcd transaction), an informer that lists a
// prefix and follows it from the listed revision without missing a
// change (Store.Inform), leases (a chassis' heartbeat, Keystone tokens)
// and counts. The single-member etcd that `wyvern server` starts when no
// external cluster is given is package store/embedded, so that agents do
// not link the etcd server.
//
// Key layout (all under Prefix). The first part of a key is its kind; the
// keys of the Neutron API's own extensions are built in api/neutron from
// the kind and ObjectKey or IndexKey:
//
//	networks/<net>                         model.Network
//	subnets/<net>/<subnet>                 model.Subnet   (keyed by network so an
//	ports/<net>/<port>                     model.Port      agent watches one prefix)
//	routers/<router>                       model.Router
//	floatingips/<fip>                      model.FloatingIP
//	security_groups/<sg>                   model.SecurityGroup
//	security_group_rules/<rule>            model.SecurityGroupRule
//	subnetpools/<pool>                     subnet pool (api/neutron)
//	subnetpool_allocs/<pool>/<addr>_<len>  id of the subnet allocated that prefix of the pool
//	address_scopes/<scope>                 address scope (api/neutron)
//	address_groups/<group>                 address group (api/neutron)
//	qos_policies/<policy>                  model.QoSPolicy with its rules (qos.go)
//	qos_bound/<policy>                     what the policy is attached to ("network:<id>", "port:<id>")
//	qos_default/<project>                  id of the project's default QoS policy
//	index/subnets/<subnet>                 network id of the subnet
//	index/ports/<port>                     network id of the port (id-ordered: port paging)
//	index/router_subnets/<subnet>/<router> id of the router's interface port on the subnet
//	index/floatingip_fixed/<extnet>/<port>/<ip>  id of the floating IP of that fixed address
//	index/port_floatingips/<port>          ids of the floating IPs associated with the port (JSON list)
//	index/port_forwarding_fips/<port>      ids of the floating IPs with port forwardings to the port (JSON list)
//	index/default_security_group/<project> id of the project's default security group
//	index/subnet_pool/<subnet>             id of the pool the subnet came from
//	index/default_subnetpool/<4|6>         id of the default pool of that IP version
//	index/subnetpool_lock/<pool>           prefixes of the pool's last allocating transaction
//	index/address_scope_pools/<scope>/<pool>  the pool belongs to the scope
//	owner/<project>/<collection>/<id>      "" for every object of a project, by API
//	                                       collection (networks, security-groups...),
//	                                       so that quotas count with one count-only read
//	ipam/<subnet>/<ip>                     port id holding the address
//	macs/<mac>                             port id holding the MAC
//	segments/<type>/<id>                   network id holding the segment (geneve, vxlan)
//	segments/vlan/<physnet>/<id>           network id holding the VLAN on that physical network
//	ct_zones/<zone>                        network or router id holding the conntrack zone
//	quotas/<project>                       quota overrides
//	chassis/<name>                         model.Chassis, written by its agent; it stays
//	                                       when the agent dies, until an operator deletes it
//	alive/<name>                           heartbeat of the chassis' agent, under its lease:
//	                                       it goes when the agent stops renewing the lease
//	gateway_chassis/<name>                 model.Chassis of a gateway chassis, under the same lease:
//	                                       the live gateway candidates agents elect from
//	stats/<name>                           model.ChassisStats (flows, ports bound), written by its agent
//	tokens/<sha256 of token>               Keystone token, under a lease (api/keystone)
//	edge/pools/<fip>                       gateway pool of a steered floating IP and its last moves
//	                                       (model.EdgePool), written with the floating IP (API)
//	                                       or by a gateway's automatic steering
//	edge/gateways/<name>                   a running gateway's registration (model.EdgeGateway),
//	                                       under its lease: the pools the API accepts
//	metering_labels/<label>                model.MeteringLabel
//	metering_label_rules/<rule>            model.MeteringLabelRule
//	metering_keys/<key>                    label or rule id holding the metering datapath key
//	metering/<chassis>                     model.MeteringCounters, written by the chassis' agent
//	scoped/<net>/routers/<router>          copy of a router, for each network it has an interface on
//	scoped/<net>/floatingips/<fip>         copy of a floating IP, on the network of its fixed port
//	                                       and of each of its port forwardings' internal ports
//	sg_rules/<group>/<rule>                copy of a rule, under its security group
//	scoped_index/<kind>/<id>               the keys of an object's copies (JSON list)
//	bindings/<chassis>/<port>              a chassis' binding of a port (model.PortBinding),
//	                                       written by its agent only (bindings.go)
//	scoped/<net>/bindings/<port>           the port's reported binding, mirrored by the server
//	fip_status/<chassis>/<floating IP>     a chassis' report that it programmed a floating IP,
//	                                       applied (ACTIVE) and deleted by the server (fipstatus.go)
//
// With etcd's authentication on, the roles of auth.go let each chassis
// write only its own chassis/, alive/, gateway_chassis/, stats/, metering/, bindings/ and
// fip_status/ keys.
//
// The copies (scoped.go) are written by Tx.commit in the transaction that
// writes the object, whoever writes it: agents watch them, so a router,
// floating IP or rule change reaches only the chassis that hold one of its
// networks or a port in its group, not every chassis.
package store

import "strconv"

// Prefix is the root of every key Wyvern writes.
const Prefix = "/wyvern/"

// Kinds of flat resources, as they appear in keys.
const (
	KindNetworks    = "networks"
	KindSubnets     = "subnets"
	KindPorts       = "ports"
	KindRouters     = "routers"
	KindFloatingIPs = "floatingips"
	KindSecGroups   = "security_groups"
	KindSGRules     = "security_group_rules"
	KindChassis     = "chassis"
	KindQuotas      = "quotas"
)

// NetworkKey is the key of a network.
func NetworkKey(id string) string { return Prefix + KindNetworks + "/" + id }

// SubnetKey is the key of a subnet on a network.
func SubnetKey(netID, id string) string { return Prefix + KindSubnets + "/" + netID + "/" + id }

// SubnetsOf is the prefix holding every subnet of a network.
func SubnetsOf(netID string) string { return Prefix + KindSubnets + "/" + netID + "/" }

// PortKey is the key of a port on a network.
func PortKey(netID, id string) string { return Prefix + KindPorts + "/" + netID + "/" + id }

// PortsOf is the prefix holding every port of a network.
func PortsOf(netID string) string { return Prefix + KindPorts + "/" + netID + "/" }

// IndexKey maps a network-scoped object (subnets, ports) to its network.
func IndexKey(kind, id string) string { return Prefix + "index/" + kind + "/" + id }

// ObjectKey is the key of a flat resource (routers, floatingips, ...).
func ObjectKey(kind, id string) string { return Prefix + kind + "/" + id }

// KindPrefix is the prefix holding every object of a kind.
func KindPrefix(kind string) string { return Prefix + kind + "/" }

// IPKey records which port holds an address on a subnet.
func IPKey(subnetID, ip string) string { return Prefix + "ipam/" + subnetID + "/" + ip }

// IPsOf is the prefix of every allocated address on a subnet.
func IPsOf(subnetID string) string { return Prefix + "ipam/" + subnetID + "/" }

// MACKey records which port holds a MAC address.
func MACKey(mac string) string { return Prefix + "macs/" + mac }

// SegmentKey records which network holds a segmentation id.
func SegmentKey(netType string, id int) string {
	return Prefix + "segments/" + netType + "/" + strconv.Itoa(id)
}

// AliveKey is the heartbeat of a chassis' agent: it exists while the agent
// keeps its lease alive.
func AliveKey(name string) string { return Prefix + "alive/" + name }

// GatewayChassisPrefix holds the registrations of the live gateway
// chassis (GatewayChassisKey).
const GatewayChassisPrefix = Prefix + "gateway_chassis/"

// GatewayChassisKey is a gateway chassis' registration (model.Chassis, as
// at ChassisKey) under its agent's lease, beside its heartbeat (AliveKey):
// it exists while a chassis flagged gateway is alive. Agents watch this
// prefix, not chassis/ and alive/, to elect routers' gateways: what a
// chassis learns of the others is then the few gateways, and the hosts of
// the ports it holds, whose endpoints come with their bindings
// (model.PortBinding.Endpoint), never every chassis of the cloud.
func GatewayChassisKey(name string) string { return GatewayChassisPrefix + name }

// ChassisKey is the key of a chassis.
func ChassisKey(name string) string { return Prefix + KindChassis + "/" + name }

// EdgePoolsPrefix holds the gateway pool assignment of every steered
// floating IP, by floating IP id.
const EdgePoolsPrefix = Prefix + "edge/pools/"

// EdgePoolKey is the key of a floating IP's gateway pool assignment.
func EdgePoolKey(fipID string) string { return EdgePoolsPrefix + fipID }

// EdgeGatewaysPrefix holds the registration of every running edge gateway,
// by name, each under its gateway's lease.
const EdgeGatewaysPrefix = Prefix + "edge/gateways/"

// EdgeGatewayKey is the key of a gateway's registration.
func EdgeGatewayKey(name string) string { return EdgeGatewaysPrefix + name }
