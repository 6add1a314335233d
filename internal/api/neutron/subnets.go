package neutron

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/ipam"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Neutron's default limits on a subnet's lists.
const (
	maxDNSNameservers = 5
	maxHostRoutes     = 20
)

// subnetObj is a subnet as the API serves it: the stored model plus
// whether its network is shared, which makes it visible to projects that
// do not own it. Neutron shows other projects a non-shared external
// network but not its subnets: they would leak the provider's addressing.
type subnetObj struct {
	model.Subnet
	open   bool
	poolID string // the subnet pool it was allocated from, if any
}

// filterAttrs gives Neutron's filter-only "shared" attribute: a subnet is
// shared when its network is.
func (o *subnetObj) filterAttrs() map[string]any { return map[string]any{"shared": o.open} }

// subnetJSON renders the attributes Neutron shows as null when unset.
type subnetJSON struct {
	*model.Subnet
	GatewayIP       *string  `json:"gateway_ip"`
	IPv6RAMode      *string  `json:"ipv6_ra_mode"`
	IPv6AddressMode *string  `json:"ipv6_address_mode"`
	SubnetPoolID    *string  `json:"subnetpool_id"`
	ServiceTypes    []string `json:"service_types"`
}

func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalJSON renders the subnet in Neutron's API form.
func (o *subnetObj) MarshalJSON() ([]byte, error) {
	return json.Marshal(subnetJSON{Subnet: &o.Subnet, GatewayIP: nullStr(o.GatewayIP),
		IPv6RAMode: nullStr(o.IPv6RAMode), IPv6AddressMode: nullStr(o.IPv6AddressMode), SubnetPoolID: nullStr(o.poolID), ServiceTypes: nonNil(o.Subnet.ServiceTypes)})
}

func subnetsResource(s *Server) *resource {
	return &resource{
		collection: "subnets", singular: "subnet", kind: "Subnet",
		list: func(ctx context.Context) ([]model.Object, error) {
			nets, _, err := store.ListOf[model.Network](ctx, s.store, store.KindPrefix(store.KindNetworks))
			if err != nil {
				return nil, err
			}
			open := map[string]bool{}
			for _, n := range nets {
				open[n.ID] = n.Shared
			}
			subs, _, err := store.ListOf[model.Subnet](ctx, s.store, store.KindPrefix(store.KindSubnets))
			if err != nil {
				return nil, err
			}
			fromPool, _, err := s.store.List(ctx, subnetPoolIndexPrefix())
			if err != nil {
				return nil, err
			}
			pool := make(map[string]string, len(fromPool))
			for _, kv := range fromPool {
				pool[strings.TrimPrefix(kv.Key, subnetPoolIndexPrefix())] = string(kv.Value)
			}
			out := make([]model.Object, len(subs))
			for i := range subs {
				out[i] = &subnetObj{Subnet: subs[i], open: open[subs[i].NetworkID], poolID: pool[subs[i].ID]}
			}
			return out, nil
		},
		load: func(tx *store.Tx, id string) (model.Object, error) {
			sub, err := loadSubnet(tx, id)
			if err != nil || sub == nil {
				return nil, err
			}
			o := &subnetObj{Subnet: *sub, poolID: tx.GetString(subnetPoolIndexKey(id))}
			if n, err := loadNetwork(tx, sub.NetworkID); err != nil {
				return nil, err
			} else if n != nil {
				o.open = n.Shared
			}
			return o, nil
		},
		save: func(tx *store.Tx, o model.Object) error {
			sub := &o.(*subnetObj).Subnet
			return tx.Put(store.SubnetKey(sub.NetworkID, sub.ID), sub)
		},
		visible: func(p auth.Principal, o model.Object) bool { return o.(*subnetObj).open },
		create:  s.createSubnet,
		update:  s.updateSubnet,
		remove:  s.removeSubnet,
	}
}

// loadSubnet reads a subnet by id inside tx (through the index); nil, nil
// when it does not exist.
func loadSubnet(tx *store.Tx, id string) (*model.Subnet, error) {
	netID := tx.GetString(store.IndexKey(store.KindSubnets, id))
	if netID == "" {
		return nil, nil
	}
	return loadSubnetOn(tx, netID, id)
}

// loadSubnetOn reads a subnet of a known network inside tx.
func loadSubnetOn(tx *store.Tx, netID, id string) (*model.Subnet, error) {
	var sub model.Subnet
	ok, err := tx.Get(store.SubnetKey(netID, id), &sub)
	if err != nil || !ok {
		return nil, err
	}
	return &sub, nil
}

// subnetPools returns a stored subnet's prefix and allocation pools.
func subnetPools(sub *model.Subnet) (netip.Prefix, []ipam.Range, error) {
	p, err := ipam.ParseCIDR(sub.CIDR)
	if err != nil {
		return netip.Prefix{}, nil, fmt.Errorf("neutron: stored subnet %s: %w", sub.ID, err)
	}
	pools := make([]ipam.Range, 0, len(sub.AllocationPools))
	for _, pl := range sub.AllocationPools {
		r, err := ipam.ParseRange(pl.Start, pl.End)
		if err != nil {
			return netip.Prefix{}, nil, fmt.Errorf("neutron: stored subnet %s: %w", sub.ID, err)
		}
		pools = append(pools, r)
	}
	return p, pools, nil
}

// isAutoAddressSubnet reports whether ports get EUI-64 addresses on sub, as
// Neutron's ipv6_utils.is_auto_address_subnet.
func isAutoAddressSubnet(sub *model.Subnet) bool {
	if sub.IPVersion != 6 {
		return false
	}
	return ipam.IsAutoAddress(sub.IPv6AddressMode) ||
		(sub.IPv6AddressMode == "" && ipam.IsAutoAddress(sub.IPv6RAMode))
}

var subnetAttrs = []string{"name", "description", "project_id", "tenant_id", "network_id", "ip_version",
	"cidr", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp",
	"ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "use_default_subnetpool", "prefixlen",
	"segment_id", "service_types", "dns_publish_fixed_ip"}

var subnetUpdatable = []string{"name", "description", "gateway_ip", "allocation_pools", "dns_nameservers",
	"host_routes", "enable_dhcp", "service_types", "segment_id", "dns_publish_fixed_ip"}

func (s *Server) createSubnet(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only(subnetAttrs...); err != nil {
		return nil, err
	}
	netID, ok, err := a.str("network_id")
	if err != nil {
		return nil, err
	}
	if !ok || netID == "" {
		return nil, BadRequest("Failed to parse request. Required attribute 'network_id' not specified")
	}
	sub := &model.Subnet{Standard: std, NetworkID: netID, EnableDHCP: true,
		DNSNameservers: []string{}, HostRoutes: []model.HostRoute{}}
	if err := a.common(&sub.Name, &sub.Description); err != nil {
		return nil, err
	}
	if a.has("segment_id") && !a.isNull("segment_id") {
		return nil, BadRequest("Routed network segments are not supported: segment_id must be null")
	}
	if err := serviceTypes(a, sub); err != nil {
		return nil, err
	}
	n, err := loadNetwork(tx, netID)
	if err != nil {
		return nil, err
	}
	if n == nil || !(p.Admin || n.ProjectID == p.ProjectID || n.Shared || n.External) {
		return nil, NotFound("Network", netID)
	}
	if !owns(p, n) {
		return nil, Forbidden("(rule:create_subnet) is disallowed by policy")
	}
	pool, err := requestedPool(tx, p, a)
	if err != nil {
		return nil, err
	}
	cidrText, ok, err := a.str("cidr")
	if err != nil {
		return nil, err
	}
	var prefix netip.Prefix
	if pool != nil {
		if prefix, err = s.allocateFromPool(ctx, tx, pool, a, cidrText); err != nil {
			return nil, err
		}
		cidrText = prefix.String()
	} else {
		if !ok || cidrText == "" {
			return nil, BadRequest("Bad subnets request: a subnetpool must be specified in the absence of a cidr.")
		}
		if prefix, err = parseCIDRAttr("cidr", cidrText); err != nil {
			return nil, err
		}
	}
	sub.CIDR = prefix.String()
	sub.IPVersion = ipam.Version(prefix.Addr())
	if v, ok, err := a.integer("ip_version"); err != nil {
		return nil, err
	} else if ok && !a.isNull("ip_version") {
		if v != 4 && v != 6 {
			return nil, badAttr("ip_version", "%d is not in [4, 6]", v)
		}
		if v != sub.IPVersion {
			return nil, InvalidInput("cidr '%s' does not match the ip_version '%d'", cidrText, v)
		}
	}
	if prefix.Bits() == 0 {
		return nil, InvalidInput("0 is not allowed as CIDR prefix length")
	}
	if v, ok, err := a.boolean("enable_dhcp"); err != nil {
		return nil, err
	} else if ok {
		sub.EnableDHCP = v
	}
	if err := s.subnetIPv6Modes(a, sub, prefix); err != nil {
		return nil, err
	}
	// Gateway: given, null (none), or the first host.
	var gw netip.Addr
	if a.has("gateway_ip") {
		gw, err = parseGateway(a, prefix)
		if err != nil {
			return nil, err
		}
	} else if d, ok := ipam.DefaultGateway(prefix); ok {
		gw = d
	}
	if gw.IsValid() {
		sub.GatewayIP = gw.String()
	}
	pools, given, err := parsePools(a)
	if err != nil {
		return nil, err
	}
	if !given {
		pools = ipam.DefaultPools(prefix, gw)
	}
	if err := validatePools(prefix, gw, pools); err != nil {
		return nil, err
	}
	sub.AllocationPools = modelPools(pools)
	if err := subnetLists(a, sub); err != nil {
		return nil, err
	}
	// No overlap with the network's other subnets. Reading each joins it to
	// the transaction, and the network's subnet list (written below) makes
	// two concurrent creates on one network conflict, so two overlapping
	// subnets can never both commit.
	for _, sid := range n.Subnets {
		other, err := loadSubnetOn(tx, n.ID, sid)
		if err != nil {
			return nil, err
		}
		if other == nil {
			continue
		}
		op, err := ipam.ParseCIDR(other.CIDR)
		if err == nil && op.Overlaps(prefix) {
			return nil, InvalidInput("Requested subnet with cidr: %s for network: %s overlaps with another subnet", sub.CIDR, n.ID)
		}
	}
	if err := tx.Put(store.SubnetKey(n.ID, sub.ID), sub); err != nil {
		return nil, err
	}
	tx.PutString(store.IndexKey(store.KindSubnets, sub.ID), n.ID)
	o := &subnetObj{Subnet: *sub, open: n.Shared || n.External}
	if pool != nil {
		recordPoolAlloc(tx, pool.ID, prefix, sub.ID)
		o.poolID = pool.ID
	}
	n.Subnets = append(n.Subnets, sub.ID)
	touch(n)
	if err := tx.Put(store.NetworkKey(n.ID), n); err != nil {
		return nil, err
	}
	return o, nil
}

// serviceTypes applies service_types: the device owners the subnet
// serves. Like Neutron it takes any owner of the "prefix:kind" style
// (network:*, compute:*, or a deployer's own such as test:type_1).
func serviceTypes(a attrs, sub *model.Subnet) error {
	l, ok, err := a.strList("service_types")
	if err != nil || !ok {
		return err
	}
	out := []string{}
	for _, st := range l {
		if prefix, _, ok := strings.Cut(st, ":"); !ok || prefix == "" {
			return newError(http.StatusBadRequest, "InvalidSubnetServiceType",
				"Subnet service type %s does not correspond to a valid device owner.", st)
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	sub.ServiceTypes = out
	if len(out) == 0 {
		sub.ServiceTypes = nil
	}
	return nil
}

// servesOwner reports whether sub may give an address to a port of this
// device owner, as Neutron's query_filter_service_subnets: a subnet
// without service types serves everyone, and DHCP ports are served by
// every subnet with DHCP enabled.
func servesOwner(sub *model.Subnet, owner string) bool {
	return len(sub.ServiceTypes) == 0 || slices.Contains(sub.ServiceTypes, owner) ||
		(owner == model.OwnerDHCP && sub.EnableDHCP)
}

func parseCIDRAttr(attr, text string) (netip.Prefix, error) {
	prefix, err := ipam.ParseCIDR(text)
	var hb *ipam.HostBitsError
	switch {
	case errors.As(err, &hb):
		return netip.Prefix{}, badAttr(attr, "%s", hb.Error())
	case err != nil:
		return netip.Prefix{}, badAttr(attr, "'%s' is not a valid IP subnet", text)
	}
	return prefix, nil
}

// parseGateway reads gateway_ip for a subnet on prefix: null or "" means
// no gateway.
func parseGateway(a attrs, prefix netip.Prefix) (netip.Addr, error) {
	text, _, err := a.str("gateway_ip")
	if err != nil {
		return netip.Addr{}, err
	}
	if text == "" {
		return netip.Addr{}, nil
	}
	gw, err := ipam.ParseAddr(text)
	if err != nil {
		return netip.Addr{}, badAttr("gateway_ip", "'%s' is not a valid IP address", text)
	}
	if gw.BitLen() != prefix.Addr().BitLen() {
		return netip.Addr{}, InvalidInput("gateway_ip '%s' does not match the ip_version '%d'", text, ipam.Version(prefix.Addr()))
	}
	if !ipam.ValidGateway(prefix, gw) {
		return netip.Addr{}, InvalidInput("Gateway is not valid on subnet")
	}
	return gw, nil
}

// parsePools reads allocation_pools; given is false when absent or null.
func parsePools(a attrs) ([]ipam.Range, bool, error) {
	if !a.has("allocation_pools") || a.isNull("allocation_pools") {
		return nil, false, nil
	}
	var raw []map[string]json.RawMessage
	if _, err := a.into("allocation_pools", &raw); err != nil {
		return nil, true, err
	}
	pools := make([]ipam.Range, 0, len(raw))
	for _, m := range raw {
		var start, end string
		bad := len(m) != 2 || json.Unmarshal(m["start"], &start) != nil || json.Unmarshal(m["end"], &end) != nil
		var r ipam.Range
		var err error
		if !bad {
			r, err = ipam.ParseRange(start, end)
		}
		if bad || err != nil {
			b, _ := json.Marshal(m)
			return nil, true, newError(http.StatusBadRequest, "InvalidAllocationPool", "The allocation pool %s is not valid.", b)
		}
		pools = append(pools, r)
	}
	return pools, true, nil
}

// validatePools maps ipam's pool checks onto Neutron's exceptions.
func validatePools(prefix netip.Prefix, gw netip.Addr, pools []ipam.Range) error {
	err := ipam.ValidatePools(prefix, gw, pools)
	var pe *ipam.PoolError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		switch pe.Kind {
		case ipam.OutOfBoundsAllocationPool:
			return newError(http.StatusBadRequest, "OutOfBoundsAllocationPool", "%s", pe.Error())
		case ipam.OverlappingAllocationPools:
			return Conflict("OverlappingAllocationPools", "%s", pe.Error())
		default:
			return Conflict("GatewayConflictWithAllocationPools", "%s", pe.Error())
		}
	default:
		return newError(http.StatusBadRequest, "InvalidAllocationPool", "The allocation pool %s is not valid.",
			strings.TrimPrefix(err.Error(), ipam.ErrInvalidPool.Error()+": "))
	}
}

func modelPools(pools []ipam.Range) []model.Pool {
	ipam.SortPools(pools)
	out := make([]model.Pool, len(pools))
	for i, r := range pools {
		out[i] = model.Pool{Start: r.First.String(), End: r.Last.String()}
	}
	return out
}

// subnetIPv6Modes validates ipv6_ra_mode and ipv6_address_mode (create
// only: they are read-only afterwards).
func (s *Server) subnetIPv6Modes(a attrs, sub *model.Subnet, prefix netip.Prefix) error {
	valid := []string{ipam.ModeDHCPv6Stateful, ipam.ModeDHCPv6Stateless, ipam.ModeSLAAC}
	for _, k := range []string{"ipv6_ra_mode", "ipv6_address_mode"} {
		v, _, err := a.str(k)
		if err != nil {
			return err
		}
		if v == "" {
			continue
		}
		ok := false
		for _, m := range valid {
			ok = ok || v == m
		}
		if !ok {
			return badAttr(k, "'%s' is not in %s", v, "['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']")
		}
		if k == "ipv6_ra_mode" {
			sub.IPv6RAMode = v
		} else {
			sub.IPv6AddressMode = v
		}
	}
	if sub.IPv6RAMode == "" && sub.IPv6AddressMode == "" {
		return nil
	}
	if sub.IPVersion == 4 {
		return InvalidInput("ipv6_ra_mode or ipv6_address_mode cannot be set when ip_version is 4")
	}
	if !sub.EnableDHCP {
		return InvalidInput("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False")
	}
	if sub.IPv6RAMode != "" && sub.IPv6AddressMode != "" && sub.IPv6RAMode != sub.IPv6AddressMode {
		return InvalidInput("ipv6_ra_mode set to '%s' with ipv6_address_mode set to '%s' is not valid. If both attributes are set, they must be the same value",
			sub.IPv6RAMode, sub.IPv6AddressMode)
	}
	if isAutoAddressSubnet(sub) && prefix.Bits() != 64 {
		return InvalidInput("Invalid CIDR %s for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64", sub.CIDR)
	}
	return nil
}

// subnetLists applies dns_nameservers and host_routes (create and update).
func subnetLists(a attrs, sub *model.Subnet) error {
	if l, ok, err := a.strList("dns_nameservers"); err != nil {
		return err
	} else if ok {
		if len(l) > maxDNSNameservers {
			return newError(http.StatusBadRequest, "DNSNameServersExhausted",
				"Unable to complete operation for %s. The number of DNS nameservers exceeds the limit %d.", sub.ID, maxDNSNameservers)
		}
		seen := map[netip.Addr]bool{}
		out := make([]string, 0, len(l))
		for _, d := range l {
			ip, err := ipam.ParseAddr(d)
			if err != nil {
				return badAttr("dns_nameservers", "'%s' is not a valid nameserver. '%s' is not a valid IP address", d, d)
			}
			if seen[ip] {
				return badAttr("dns_nameservers", "Duplicate nameserver '%s'", d)
			}
			seen[ip] = true
			out = append(out, ip.String())
		}
		sub.DNSNameservers = out
	}
	if a.has("host_routes") {
		var raw []map[string]json.RawMessage
		if !a.isNull("host_routes") {
			if _, err := a.into("host_routes", &raw); err != nil {
				return err
			}
		}
		if len(raw) > maxHostRoutes {
			return newError(http.StatusBadRequest, "HostRoutesExhausted",
				"Unable to complete operation for %s. The number of host routes exceeds the limit %d.", sub.ID, maxHostRoutes)
		}
		routes := make([]model.HostRoute, 0, len(raw))
		seen := map[model.HostRoute]bool{}
		for _, m := range raw {
			var hr model.HostRoute
			b, _ := json.Marshal(m)
			if len(m) != 2 || json.Unmarshal(m["destination"], &hr.Destination) != nil || json.Unmarshal(m["nexthop"], &hr.NextHop) != nil {
				return badAttr("host_routes", "Validation of dictionary's keys failed. Expected keys: {'destination', 'nexthop'} Provided keys: %s", b)
			}
			dst, err := netip.ParsePrefix(hr.Destination)
			if err != nil || dst.Addr().Zone() != "" {
				return badAttr("host_routes", "'%s' is not a valid IP subnet", hr.Destination)
			}
			nh, err := ipam.ParseAddr(hr.NextHop)
			if err != nil {
				return badAttr("host_routes", "'%s' is not a valid IP address", hr.NextHop)
			}
			if ipam.Version(dst.Addr()) != sub.IPVersion || ipam.Version(nh) != sub.IPVersion {
				return InvalidInput("host_route '%s' does not match the ip_version '%d'", b, sub.IPVersion)
			}
			hr = model.HostRoute{Destination: dst.Masked().String(), NextHop: nh.String()}
			if seen[hr] {
				return badAttr("host_routes", "Duplicate hostroute '%s'", b)
			}
			seen[hr] = true
			routes = append(routes, hr)
		}
		sub.HostRoutes = routes
	}
	return nil
}

func (s *Server) updateSubnet(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	o := cur.(*subnetObj)
	sub := &o.Subnet
	for k := range a {
		ok := false
		for _, u := range subnetUpdatable {
			ok = ok || k == u
		}
		if ok {
			continue
		}
		for _, known := range subnetAttrs {
			if k == known {
				return nil, BadRequest("Cannot update read-only attribute %s", k)
			}
		}
	}
	if err := a.only(subnetUpdatable...); err != nil {
		return nil, err
	}
	if a.has("segment_id") && !a.isNull("segment_id") {
		return nil, BadRequest("Routed network segments are not supported: segment_id must be null")
	}
	if err := serviceTypes(a, sub); err != nil {
		return nil, err
	}
	if err := a.common(&sub.Name, &sub.Description); err != nil {
		return nil, err
	}
	prefix, pools, err := subnetPools(sub)
	if err != nil {
		return nil, err
	}
	var gw netip.Addr
	if sub.GatewayIP != "" {
		gw, _ = ipam.ParseAddr(sub.GatewayIP)
	}
	checkPools := false
	if a.has("gateway_ip") {
		ngw, err := parseGateway(a, prefix)
		if err != nil {
			return nil, err
		}
		if ngw != gw && gw.IsValid() {
			// A router interface holding the old gateway pins it.
			if holder := tx.GetString(store.IPKey(sub.ID, gw.String())); holder != "" {
				return nil, Conflict("GatewayIpInUse", "Current gateway ip %s already in use by port %s. Unable to update.", gw, holder)
			}
		}
		gw = ngw
		checkPools = true
	}
	if np, given, err := parsePools(a); err != nil {
		return nil, err
	} else if given {
		pools = np
		checkPools = true
	}
	if checkPools {
		if err := validatePools(prefix, gw, pools); err != nil {
			return nil, err
		}
	}
	sub.GatewayIP = ""
	if gw.IsValid() {
		sub.GatewayIP = gw.String()
	}
	sub.AllocationPools = modelPools(pools)
	if v, ok, err := a.boolean("enable_dhcp"); err != nil {
		return nil, err
	} else if ok {
		if !v && (sub.IPv6RAMode != "" || sub.IPv6AddressMode != "") {
			return nil, InvalidInput("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False")
		}
		sub.EnableDHCP = v
	}
	if err := subnetLists(a, sub); err != nil {
		return nil, err
	}
	touch(sub)
	return o, tx.Put(store.SubnetKey(sub.NetworkID, sub.ID), sub)
}

// removeSubnet deletes a subnet no port but DHCP holds an address on. The
// DHCP ports lose their address on it in the same transaction.
func (s *Server) removeSubnet(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	sub := &cur.(*subnetObj).Subnet
	// The allocations are listed outside the transaction, after its
	// snapshot (the subnet's read); every holder is then read inside it.
	// The guard makes an address allocated on the subnet since the
	// snapshot fail the commit, so the delete retries and sees it instead
	// of orphaning it; an allocation committing after the delete conflicts
	// on the subnet key it read.
	tx.Guard(store.IPsOf(sub.ID))
	kvs, _, err := s.store.List(ctx, store.IPsOf(sub.ID))
	if err != nil {
		return err
	}
	dhcp := map[string]*model.Port{}
	for _, kv := range kvs {
		portID := string(kv.Value)
		if _, done := dhcp[portID]; done {
			tx.Delete(kv.Key)
			continue
		}
		var port model.Port
		ok, err := tx.Get(store.PortKey(sub.NetworkID, portID), &port)
		if err != nil {
			return err
		}
		if ok && port.DeviceOwner != model.OwnerDHCP {
			return Conflict("SubnetInUse", "Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", sub.ID)
		}
		if ok {
			dhcp[portID] = &port
		}
		tx.Delete(kv.Key)
	}
	for _, port := range dhcp {
		kept := []model.FixedIP{}
		for _, f := range port.FixedIPs {
			if f.SubnetID != sub.ID {
				kept = append(kept, f)
			}
		}
		port.FixedIPs = kept
		touch(port)
		if err := tx.Put(store.PortKey(port.NetworkID, port.ID), port); err != nil {
			return err
		}
	}
	tx.Delete(store.SubnetKey(sub.NetworkID, sub.ID))
	tx.Delete(store.IndexKey(store.KindSubnets, sub.ID))
	freePoolAlloc(tx, sub)
	n, err := loadNetwork(tx, sub.NetworkID)
	if err != nil {
		return err
	}
	if n != nil {
		kept := []string{}
		for _, id := range n.Subnets {
			if id != sub.ID {
				kept = append(kept, id)
			}
		}
		n.Subnets = kept
		touch(n)
		if err := tx.Put(store.NetworkKey(n.ID), n); err != nil {
			return err
		}
	}
	return nil
}
