package neutron

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/ipam"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// portSpec asks for a port made by the server itself (router interfaces and
// gateways, floating IP ports) rather than by a client's POST.
type portSpec struct {
	ProjectID   string
	NetworkID   string
	DeviceOwner string
	DeviceID    string
	// FixedIPs requests addresses: a subnet (any free address on it), an
	// address, or both. Empty means one address on the first IPv4 subnet.
	FixedIPs []model.FixedIP
	// NoSecurity creates the port without security groups and with port
	// security disabled, as Neutron does for router and floating IP ports.
	NoSecurity bool
}

// allocatePort creates a port inside tx, allocating its MAC and addresses,
// and counts it against its project's port quota. The caller has checked
// that p may use the network: the port is made on the server's authority.
func (s *Server) allocatePort(ctx context.Context, tx *store.Tx, p auth.Principal, spec portSpec) (*model.Port, error) {
	t := now()
	std := model.Standard{ID: newID(), ProjectID: spec.ProjectID, TenantID: spec.ProjectID,
		CreatedAt: t, UpdatedAt: t, Tags: []string{}}
	req := portReq{
		networkID: spec.NetworkID, deviceOwner: spec.DeviceOwner, deviceID: spec.DeviceID,
		adminUp: true, server: true, vnicType: "normal",
	}
	for _, f := range spec.FixedIPs {
		r := fixedIPReq{SubnetID: f.SubnetID}
		if f.IPAddress != "" {
			ip, err := ipam.ParseAddr(f.IPAddress)
			if err != nil {
				return nil, badAttr("fixed_ips", "'%s' is not a valid IP address", f.IPAddress)
			}
			r.IP = ip
		}
		req.fixed = append(req.fixed, r)
	}
	req.fixedGiven = len(req.fixed) > 0
	if spec.NoSecurity {
		off := false
		req.portSecurity = &off
		req.sgsGiven = true
	}
	port, err := s.buildPort(ctx, tx, p, std, req)
	if err != nil {
		return nil, err
	}
	tx.PutString(ownerKey(port.ProjectID, "ports", port.ID), "")
	return port, nil
}

// deletePortKeys deletes a port and frees its MAC and addresses inside tx.
// It reads nothing, so deleting many ports costs no round trips.
func deletePortKeys(tx *store.Tx, port *model.Port) error {
	tx.Delete(store.PortKey(port.NetworkID, port.ID))
	tx.Delete(store.IndexKey(store.KindPorts, port.ID))
	tx.Delete(ownerKey(port.ProjectID, "ports", port.ID))
	if err := releaseQoS(tx, "port", port.ID, port.QoSPolicyID); err != nil {
		return err
	}
	if port.MACAddress != "" {
		tx.Delete(store.MACKey(port.MACAddress))
	}
	for _, f := range port.FixedIPs {
		tx.Delete(store.IPKey(f.SubnetID, f.IPAddress))
	}
	return nil
}

// fixedIPReq is one requested address: a subnet, an address, or both.
type fixedIPReq struct {
	SubnetID string
	IP       netip.Addr // invalid: any free address
}

// routerOwner reports device owners that may take a subnet's special
// addresses (IPv6 subnet-router anycast) and skip automatic addresses.
func routerOwner(owner string) bool {
	return owner == model.OwnerRouterInterface || owner == "network:router_interface_distributed" ||
		owner == "network:ha_router_replicated_interface" || owner == model.OwnerRouterGateway
}

// allocator hands out one port's addresses inside a transaction. Claims are
// checked with tx.GetString, which sees the transaction's own writes, so
// two ports of one bulk request never get the same address, and an address
// freed earlier in the transaction may be taken again.
type allocator struct {
	s       *Server
	ctx     context.Context
	tx      *store.Tx
	net     *model.Network
	portID  string
	mac     string
	owner   string
	subnets map[string]*model.Subnet
}

func newAllocator(ctx context.Context, s *Server, tx *store.Tx, net *model.Network, portID, mac, owner string) *allocator {
	return &allocator{s: s, ctx: ctx, tx: tx, net: net, portID: portID, mac: mac, owner: owner, subnets: map[string]*model.Subnet{}}
}

// subnet loads a subnet of the allocator's network.
func (al *allocator) subnet(id string) (*model.Subnet, error) {
	if sub, ok := al.subnets[id]; ok {
		return sub, nil
	}
	sub, err := loadSubnetOn(al.tx, al.net.ID, id)
	if err != nil {
		return nil, err
	}
	if sub == nil {
		if al.tx.GetString(store.IndexKey(store.KindSubnets, id)) != "" {
			return nil, InvalidInput("Failed to create port on network %s, because fixed_ips included invalid subnet %s", al.net.ID, id)
		}
		return nil, NotFound("Subnet", id)
	}
	al.subnets[id] = sub
	return sub, nil
}

// all loads every subnet of the network, in creation order.
func (al *allocator) all() ([]*model.Subnet, error) {
	out := make([]*model.Subnet, 0, len(al.net.Subnets))
	for _, id := range al.net.Subnets {
		sub, err := al.subnet(id)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Status == http.StatusNotFound {
				continue // deleted meanwhile; the transaction will retry
			}
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

func (al *allocator) exhausted() *Error {
	return Conflict("IpAddressGenerationFailure", "No more IP addresses available on network %s.", al.net.ID)
}

// claim takes ip on sub for the port, or fails if someone holds it.
func (al *allocator) claim(sub *model.Subnet, ip netip.Addr) (model.FixedIP, error) {
	prefix, err := ipam.ParseCIDR(sub.CIDR)
	if err != nil {
		return model.FixedIP{}, fmt.Errorf("neutron: stored subnet %s: %w", sub.ID, err)
	}
	if !ipam.ValidHost(prefix, ip, routerOwner(al.owner)) {
		return model.FixedIP{}, newError(http.StatusBadRequest, "InvalidIpForSubnet",
			"IP address %s is not a valid IP for the specified subnet.", ip)
	}
	if isAutoAddressSubnet(sub) && !routerOwner(al.owner) {
		if eui, err := ipam.EUI64(prefix, al.mac); err != nil || eui != ip {
			return model.FixedIP{}, InvalidInput("IPv6 address %s cannot be directly assigned to a port on subnet %s since the subnet is configured for automatic addresses", ip, sub.ID)
		}
	}
	key := store.IPKey(sub.ID, ip.String())
	if al.tx.GetString(key) != "" {
		return model.FixedIP{}, Conflict("IpAddressAlreadyAllocated", "IP address %s already allocated in subnet %s", ip, sub.ID)
	}
	al.tx.PutString(key, al.portID)
	return model.FixedIP{SubnetID: sub.ID, IPAddress: ip.String()}, nil
}

// smallPool is the pool size under which allocation lists the subnet's
// allocations at once instead of probing random addresses first.
const smallPool = 64

// any takes a free address on sub: the EUI-64 address on automatic IPv6
// subnets, else one from the pools. ok is false when the pools are full.
//
// Candidates are chosen without reading the allocation set in the
// transaction (that would make every create conflict with every other):
// first a few random addresses of the pools, each claimed only if its key
// is absent; then, when those were taken, a fresh listing of the
// allocations outside the transaction, from which free candidates are
// claimed the same way. A listing with no free address is exhaustion.
func (al *allocator) any(sub *model.Subnet) (model.FixedIP, bool, error) {
	prefix, pools, err := subnetPools(sub)
	if err != nil {
		return model.FixedIP{}, false, err
	}
	if isAutoAddressSubnet(sub) {
		ip, err := ipam.EUI64(prefix, al.mac)
		if err != nil {
			return model.FixedIP{}, false, fmt.Errorf("neutron: EUI-64 on %s: %w", sub.ID, err)
		}
		f, err := al.claim(sub, ip)
		return f, err == nil, err
	}
	size := ipam.Size(pools)
	if size == 0 {
		return model.FixedIP{}, false, nil
	}
	try := func(ip netip.Addr) bool {
		key := store.IPKey(sub.ID, ip.String())
		if al.tx.GetString(key) != "" {
			return false
		}
		al.tx.PutString(key, al.portID)
		return true
	}
	if size > smallPool {
		if ip, ok := drawnIP(al.ctx, sub.ID); ok && try(ip) {
			return model.FixedIP{SubnetID: sub.ID, IPAddress: ip.String()}, true, nil
		}
		for range 3 {
			if ip := ipam.Random(pools, rand.Uint64); try(ip) {
				return model.FixedIP{SubnetID: sub.ID, IPAddress: ip.String()}, true, nil
			}
		}
	}
	kvs, _, err := al.s.store.List(al.ctx, store.IPsOf(sub.ID))
	if err != nil {
		return model.FixedIP{}, false, err
	}
	taken := make(map[netip.Addr]bool, len(kvs))
	for _, kv := range kvs {
		if ip, err := netip.ParseAddr(strings.TrimPrefix(kv.Key, store.IPsOf(sub.ID))); err == nil {
			taken[ip] = true
		}
	}
	isTaken := func(a netip.Addr) bool { return taken[a] }
	// Each round probes a few free candidates; those found taken (claimed
	// by this transaction, or since the listing) join the taken set.
	for probes := 0; probes < 64; {
		cands := ipam.Free(pools, isTaken, 4, uint64(len(taken))+4, rand.Uint64)
		if len(cands) == 0 {
			break
		}
		for _, ip := range cands {
			probes++
			if try(ip) {
				return model.FixedIP{SubnetID: sub.ID, IPAddress: ip.String()}, true, nil
			}
			taken[ip] = true
		}
	}
	return model.FixedIP{}, false, nil
}

// request allocates the addresses reqs asks for. given is false when the
// client gave no fixed_ips: then, as Neutron, one address from the first
// IPv4 subnet with room, one from the first stateful IPv6 subnet with
// room, and the EUI-64 address on every automatic IPv6 subnet.
func (al *allocator) request(reqs []fixedIPReq, given bool) ([]model.FixedIP, error) {
	out := []model.FixedIP{}
	if !given {
		subs, err := al.all()
		if err != nil {
			return nil, err
		}
		var v4, v6, auto []*model.Subnet
		served := 0
		for _, sub := range subs {
			if !servesOwner(sub, al.owner) {
				continue
			}
			served++
			switch {
			case sub.IPVersion == 4:
				v4 = append(v4, sub)
			case al.owner == model.OwnerFloatingIP:
				// Floating IPs are IPv4 only: no IPv6 address to hold.
			case isAutoAddressSubnet(sub):
				// Neutron gives router interfaces no automatic address
				// (the subnet's gateway is theirs), a router's gateway
				// its EUI-64 one, as any port.
				if !routerOwner(al.owner) || al.owner == model.OwnerRouterGateway {
					auto = append(auto, sub)
				}
			default:
				v6 = append(v6, sub)
			}
		}
		if served == 0 && len(subs) > 0 {
			return nil, invalidInputAs("IpAddressGenerationFailureNoMatchingSubnet",
				"No valid service subnet for the given device owner, network %s, service type %s", al.net.ID, al.owner)
		}
		for _, group := range [][]*model.Subnet{v4, v6} {
			if len(group) == 0 {
				continue
			}
			done := false
			for _, sub := range group {
				f, ok, err := al.any(sub)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, f)
					done = true
					break
				}
			}
			if !done {
				return nil, al.exhausted()
			}
		}
		for _, sub := range auto {
			f, _, err := al.any(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	for _, r := range reqs {
		f, err := al.one(r)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// one allocates a single requested address.
func (al *allocator) one(r fixedIPReq) (model.FixedIP, error) {
	if r.SubnetID == "" {
		subs, err := al.all()
		if err != nil {
			return model.FixedIP{}, err
		}
		for _, sub := range subs {
			if p, err := ipam.ParseCIDR(sub.CIDR); err == nil && p.Contains(r.IP) && servesOwner(sub, al.owner) {
				return al.claim(sub, r.IP)
			}
		}
		return model.FixedIP{}, newError(http.StatusBadRequest, "InvalidIpForNetwork",
			"IP address %s is not a valid IP for any of the subnets on the specified network.", r.IP)
	}
	sub, err := al.subnet(r.SubnetID)
	if err != nil {
		return model.FixedIP{}, err
	}
	// Service subnets serve only their device owners, explicit requests
	// included (Neutron filters the candidate subnets the same way).
	if !servesOwner(sub, al.owner) {
		return model.FixedIP{}, InvalidInput("Failed to create port on network %s, because fixed_ips included invalid subnet %s", al.net.ID, sub.ID)
	}
	if r.IP.IsValid() {
		return al.claim(sub, r.IP)
	}
	f, ok, err := al.any(sub)
	if err != nil {
		return model.FixedIP{}, err
	}
	if !ok {
		return model.FixedIP{}, al.exhausted()
	}
	return f, nil
}

// randomMAC returns a random MAC with the configured prefix.
func (s *Server) randomMAC() (string, error) {
	base, err := ipam.ParseBaseMAC(s.cfg.BaseMAC)
	if err != nil {
		return "", fmt.Errorf("neutron: %w", err)
	}
	return base.Random(rand.Uint64), nil
}

// allocateMAC claims mac (validated by the caller) or, when mac is empty,
// a random MAC with the configured prefix, trying first (when not empty)
// before any other.
func (s *Server) allocateMAC(tx *store.Tx, netID, portID, mac, first string) (string, error) {
	if mac != "" {
		if tx.GetString(store.MACKey(mac)) != "" {
			return "", Conflict("MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", netID, mac)
		}
		tx.PutString(store.MACKey(mac), portID)
		return mac, nil
	}
	for i := range 16 {
		m := first
		if i > 0 || m == "" {
			var err error
			if m, err = s.randomMAC(); err != nil {
				return "", err
			}
		}
		if tx.GetString(store.MACKey(m)) == "" {
			tx.PutString(store.MACKey(m), portID)
			return m, nil
		}
	}
	return "", newError(http.StatusServiceUnavailable, "MacAddressGenerationFailure", "Unable to generate unique mac on network %s.", netID)
}

// invalidInputAs is InvalidInput with a more specific Neutron type.
func invalidInputAs(typ, format string, args ...any) *Error {
	e := InvalidInput(format, args...)
	e.Type = typ
	return e
}
