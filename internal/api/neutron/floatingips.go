package neutron

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// fipRecord is a floating IP as stored: the model plus the id of the port
// holding its address on the external network, which the API does not
// show. Readers that decode the key as a model.FloatingIP ignore it.
type fipRecord = model.FloatingIPRecord

// fipObj is a floating IP as the API shows it, with the fip-port-details
// extension's port_details.
type fipObj struct {
	model.FloatingIP
	PortDetails *fipPortDetails `json:"port_details"`
	// EdgePool and EdgePoolMoves are Wyvern's edge steering (edge.go):
	// the gateway pool serving the address and its last moves, read-only
	// but for an admin's edge_pool.
	EdgePool      string           `json:"edge_pool"`
	EdgePoolMoves []model.EdgeMove `json:"edge_pool_moves"`
	// PortForwardings are the floating IP's port forwardings, as the
	// expose-port-forwarding-in-fip extension lists them
	// (portforwardings.go); forwardings are the stored ones.
	PortForwardings []pfBrief `json:"port_forwardings"`
	forwardings     []model.PortForwarding
	// pool is the stored pool record (nil: never steered); poolChanged
	// says saveFIP must write it.
	pool        *model.EdgePool
	poolChanged bool
	// floatingPort is the id of the port holding the floating address.
	floatingPort string
	// heldPort and heldFixed are the association as stored, whose
	// fipFixedKey a change must free, even when the port is gone.
	heldPort, heldFixed string
	// pfPorts are the internal ports of the forwardings as stored (sorted),
	// whose pfPortKey index saveFIP keeps; storedPort is the associated
	// port as stored, whose fipPortKey index saveFIP keeps.
	pfPorts    []string
	storedPort string
}

// MarshalJSON renders Neutron's nulls for an unassociated floating IP,
// and no name (floating IPs have none).
func (f *fipObj) MarshalJSON() ([]byte, error) {
	type plain fipObj // without this method
	return json.Marshal(struct {
		*plain
		Name           *string `json:"name,omitempty"`
		PortID         *string `json:"port_id"`
		FixedIPAddress *string `json:"fixed_ip_address"`
		RouterID       *string `json:"router_id"`
	}{plain: (*plain)(f), PortID: nullable(f.PortID), FixedIPAddress: nullable(f.FixedIPAddress), RouterID: nullable(f.RouterID)})
}

// fipPortDetails summarises the associated port.
type fipPortDetails struct {
	Name         string `json:"name"`
	NetworkID    string `json:"network_id"`
	MACAddress   string `json:"mac_address"`
	AdminStateUp bool   `json:"admin_state_up"`
	Status       string `json:"status"`
	DeviceID     string `json:"device_id"`
	DeviceOwner  string `json:"device_owner"`
}

func portDetails(p *model.Port) *fipPortDetails {
	if p == nil {
		return nil
	}
	return &fipPortDetails{Name: p.Name, NetworkID: p.NetworkID, MACAddress: p.MACAddress, AdminStateUp: p.AdminStateUp,
		Status: p.Status, DeviceID: p.DeviceID, DeviceOwner: p.DeviceOwner}
}

func fipKey(id string) string { return store.ObjectKey(store.KindFloatingIPs, id) }

// fipFixedKey makes a fixed address hold at most one floating IP per
// external network; the value is the floating IP's id.
func fipFixedKey(extNet, portID, fixedIP string) string {
	return store.IndexKey("floatingip_fixed", extNet+"/"+portID+"/"+fixedIP)
}

func fipFromRecord(rec *fipRecord) *fipObj {
	f := &fipObj{FloatingIP: rec.FloatingIP, heldPort: rec.PortID, heldFixed: rec.FixedIPAddress}
	f.floatingPort = rec.FloatingPort
	f.forwardings = rec.PortForwardings
	f.pfPorts = forwardedPorts(rec.PortForwardings)
	f.storedPort = rec.PortID
	f.showForwardings()
	f.showPool(nil)
	return f
}

// fipKeys are the keys loadFIP and saveFIP read for floating IP id: its
// record, its edge pool and its scoped copies' index (which the store
// reads when it writes the record).
func fipKeys(id string) []string {
	return []string{fipKey(id), store.EdgePoolKey(id), store.ScopedIndexOf(store.KindFloatingIPs) + id}
}

func loadFIP(tx *store.Tx, id string) (*fipObj, error) {
	tx.Prefetch(fipKeys(id)...)
	var rec fipRecord
	ok, err := tx.Get(fipKey(id), &rec)
	if err != nil || !ok {
		return nil, err
	}
	f := fipFromRecord(&rec)
	var pool model.EdgePool
	if ok, err := tx.Get(store.EdgePoolKey(id), &pool); err != nil {
		return nil, err
	} else if ok {
		f.showPool(&pool)
	}
	if f.PortID != "" {
		// With the port's index, its floating IPs' (which a change of
		// the association writes).
		tx.Prefetch(store.IndexKey(store.KindPorts, f.PortID), fipPortKey(f.PortID))
		port, err := l3Port(tx, f.PortID)
		if err != nil {
			return nil, err
		}
		f.showPort(port)
	}
	return f, nil
}

// prefetchFIPUpdate reads in one round trip what an update of floating IP
// id reads first: the floating IP's keys and, for an association, the
// port's index, its forwardings' and its floating IPs' (the port itself
// needs its network, read with them).
func prefetchFIPUpdate(tx *store.Tx, id string, a attrs) {
	keys := fipKeys(id)
	if portID, ok, err := a.str("port_id"); err == nil && ok && portID != "" {
		keys = append(keys, store.IndexKey(store.KindPorts, portID), pfPortKey(portID), fipPortKey(portID))
	}
	tx.Prefetch(keys...)
}

// prefetchFIPCreate draws ahead the MACs and addresses of the floating
// IPs' ports on each external network (drawFor), and reads, in three
// round trips, what creating floating IPs with a port_id reads of their
// ports: the ports, their floating IP and port forwarding index entries,
// and the entries of their fixed addresses on the floating IPs' networks.
func (s *Server) prefetchFIPCreate(ctx context.Context, tx *store.Tx, items []attrs) (context.Context, error) {
	if len(items) > 1 {
		perNet := map[string]int{}
		for _, a := range items {
			if ext, ok, err := a.str("floating_network_id"); err == nil && ok && ext != "" {
				if addr, _, _ := a.str("floating_ip_address"); addr == "" {
					perNet[ext]++
				}
			}
		}
		for ext, n := range perNet {
			var err error
			if ctx, err = s.drawFor(ctx, tx, ext, model.OwnerFloatingIP, n); err != nil {
				return ctx, err
			}
		}
	}
	prefetchFIPPorts(tx, items)
	return ctx, nil
}

func prefetchFIPPorts(tx *store.Tx, items []attrs) {
	type assoc struct{ port, extNet, fixed string }
	var as []assoc
	for _, a := range items {
		portID, ok, err := a.str("port_id")
		if err != nil || !ok || portID == "" {
			continue
		}
		ext, _, _ := a.str("floating_network_id")
		fixed, _, _ := a.str("fixed_ip_address")
		as = append(as, assoc{portID, ext, fixed})
	}
	if len(as) == 0 {
		return
	}
	keys := make([]string, 0, 3*len(as))
	for _, a := range as {
		keys = append(keys, store.IndexKey(store.KindPorts, a.port), pfPortKey(a.port), fipPortKey(a.port))
	}
	tx.Prefetch(keys...)
	keys = keys[:0]
	for _, a := range as {
		if netID := tx.GetString(store.IndexKey(store.KindPorts, a.port)); netID != "" {
			keys = append(keys, store.PortKey(netID, a.port))
		}
	}
	tx.Prefetch(keys...)
	keys = keys[:0]
	for _, a := range as {
		port, err := l3Port(tx, a.port)
		if err != nil || port == nil || a.extNet == "" {
			continue
		}
		for _, ip := range port.FixedIPs {
			if a.fixed == "" || a.fixed == ip.IPAddress {
				keys = append(keys, fipFixedKey(a.extNet, a.port, ip.IPAddress))
			}
		}
	}
	tx.Prefetch(keys...)
}

// showPort fills port_details from the associated port. A port deleted
// without its floating IPs being disassociated shows as no association.
func (f *fipObj) showPort(port *model.Port) {
	if port == nil {
		f.PortID, f.FixedIPAddress, f.RouterID, f.Status = "", "", "", model.StatusDown
		return
	}
	f.PortDetails = portDetails(port)
}

func saveFIP(tx *store.Tx, f *fipObj) error {
	if err := syncPFIndex(tx, f); err != nil {
		return err
	}
	if err := syncPortIndex(tx, f); err != nil {
		return err
	}
	if f.poolChanged {
		if err := tx.Put(store.EdgePoolKey(f.ID), f.pool); err != nil {
			return err
		}
	}
	return tx.Put(fipKey(f.ID), &fipRecord{FloatingIP: f.FloatingIP, FloatingPort: f.floatingPort, PortForwardings: f.forwardings})
}

func fipBadRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "BadRequest", "Bad floatingip request: "+format+".", args...)
}

func floatingIPsResource(s *Server) *resource {
	return &resource{
		collection: "floatingips", singular: "floatingip", kind: "FloatingIP",
		list:           s.listFloatingIPs,
		load:           func(tx *store.Tx, id string) (model.Object, error) { return orNil(loadFIP(tx, id)) },
		save:           func(tx *store.Tx, o model.Object) error { return saveFIP(tx, o.(*fipObj)) },
		prefetch:       prefetchFIPUpdate,
		prefetchCreate: s.prefetchFIPCreate,
		create:         s.createFloatingIP,
		update:         s.updateFloatingIP,
		remove:         s.removeFloatingIP,
		extra:          func(s *Server, mux *http.ServeMux) { s.registerPortForwardings(mux) },
	}
}

// listFloatingIPs returns every floating IP, reading the associated ports
// for port_details.
func (s *Server) listFloatingIPs(ctx context.Context) ([]model.Object, error) {
	recs, _, err := store.ListOf[fipRecord](ctx, s.store, store.KindPrefix(store.KindFloatingIPs))
	if err != nil {
		return nil, err
	}
	pools, err := s.edgePools(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]model.Object, len(recs))
	for i := range recs {
		f := fipFromRecord(&recs[i])
		f.showPool(pools[f.ID])
		if f.PortID != "" {
			port, err := s.readPort(ctx, f.PortID)
			if err != nil {
				return nil, err
			}
			f.showPort(port)
		}
		out[i] = f
	}
	return out, nil
}

// readPort reads a port outside a transaction; nil, nil when it does not
// exist.
func (s *Server) readPort(ctx context.Context, id string) (*model.Port, error) {
	netID, err := s.store.GetString(ctx, store.IndexKey(store.KindPorts, id))
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var port model.Port
	if _, err := s.store.Get(ctx, store.PortKey(netID, id), &port); isNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &port, nil
}

func (s *Server) createFloatingIP(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only("floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address",
		"description", "project_id", "tenant_id"); err != nil {
		return nil, err
	}
	f := &fipObj{FloatingIP: model.FloatingIP{Standard: std, Status: model.StatusDown}}
	f.showPool(nil)
	f.showForwardings()
	if err := a.common(&f.Name, &f.Description); err != nil {
		return nil, err
	}
	netID, _, err := a.str("floating_network_id")
	if err != nil {
		return nil, err
	}
	if netID == "" {
		return nil, BadRequest("Failed to parse request. Required attribute 'floating_network_id' not specified")
	}
	addr, _, err := a.str("floating_ip_address")
	if err != nil {
		return nil, err
	}
	if addr != "" {
		if !p.Admin {
			return nil, Forbidden("(rule:create_floatingip:floating_ip_address) is disallowed by policy")
		}
		if a, err := netip.ParseAddr(addr); err != nil {
			return nil, BadRequest("Invalid input for floating_ip_address. Reason: '%s' is not a valid IP address.", addr)
		} else if !a.Is4() {
			return nil, fipBadRequest("Floating IPs are IPv4 only (routers route IPv6 without NAT): %s is an IPv6 address", addr)
		}
	}
	subnetID, _, err := a.str("subnet_id")
	if err != nil {
		return nil, err
	}
	portID, _, err := a.str("port_id")
	if err != nil {
		return nil, err
	}
	fixed, _, err := a.str("fixed_ip_address")
	if err != nil {
		return nil, err
	}
	if fixed != "" && portID == "" {
		return nil, fipBadRequest("fixed_ip_address cannot be specified without a port_id")
	}

	n, err := loadNetwork(tx, netID)
	if err != nil {
		return nil, err
	}
	if n == nil || !(p.Admin || n.ProjectID == p.ProjectID || n.Shared || n.External) {
		return nil, NotFound("Network", netID)
	}
	if !n.External {
		return nil, fipBadRequest("Network %s is not a valid external network", netID)
	}
	f.FloatingNetworkID = n.ID
	var want []model.FixedIP
	if subnetID != "" || addr != "" {
		if subnetID != "" {
			sub, err := l3Subnet(tx, subnetID)
			if err != nil {
				return nil, err
			}
			if sub == nil || sub.NetworkID != n.ID {
				return nil, InvalidInput("Failed to create port on network %s, because fixed_ips included invalid subnet %s", n.ID, subnetID)
			}
			if sub.IPVersion != 4 {
				return nil, fipBadRequest("Floating IPs are IPv4 only (routers route IPv6 without NAT): subnet %s is an IPv6 subnet", subnetID)
			}
		}
		want = []model.FixedIP{{SubnetID: subnetID, IPAddress: addr}}
	}
	port, err := s.allocatePort(ctx, tx, elevated(p), portSpec{
		NetworkID: n.ID, DeviceOwner: model.OwnerFloatingIP, DeviceID: f.ID, FixedIPs: want, NoSecurity: true,
	})
	if err != nil {
		return nil, err
	}
	for _, ip := range port.FixedIPs {
		if a, err := netip.ParseAddr(ip.IPAddress); err == nil && a.Is4() {
			f.FloatingIPAddress = ip.IPAddress
			break
		}
	}
	if f.FloatingIPAddress == "" {
		return nil, fipBadRequest("No IPv4 address available on external network %s", n.ID)
	}
	f.floatingPort = port.ID
	if portID != "" {
		if err := s.associateFIP(ctx, tx, p, f, portID, fixed); err != nil {
			return nil, err
		}
	}
	return f, saveFIP(tx, f)
}

func (s *Server) updateFloatingIP(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	f := cur.(*fipObj)
	if err := a.only("port_id", "fixed_ip_address", "description", "edge_pool"); err != nil {
		return nil, err
	}
	if d, ok, err := a.str("description"); err != nil {
		return nil, err
	} else if ok {
		f.Description = d
	}
	if pool, ok, err := a.str("edge_pool"); err != nil {
		return nil, err
	} else if ok {
		if err := s.steerFIP(ctx, p, f, pool); err != nil {
			return nil, err
		}
		delete(a, "edge_pool")
		if len(a) == 0 {
			// Steering alone keeps the association (an empty update
			// would be Neutron's disassociation).
			touch(f)
			return f, saveFIP(tx, f)
		}
	}
	fixed, _, err := a.str("fixed_ip_address")
	if err != nil {
		return nil, err
	}
	portID, hasPort, err := a.str("port_id")
	if err != nil {
		return nil, err
	}
	switch {
	case fixed != "" && portID == "":
		return nil, fipBadRequest("fixed_ip_address cannot be specified without a port_id")
	case len(a) == 0, hasPort && portID == "":
		// Neutron treats an empty update as port_id null.
		disassociateFIP(tx, f)
	case hasPort:
		if err := s.associateFIP(ctx, tx, p, f, portID, fixed); err != nil {
			return nil, err
		}
	}
	touch(f)
	return f, saveFIP(tx, f)
}

func (s *Server) removeFloatingIP(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	f := cur.(*fipObj)
	if len(f.forwardings) > 0 {
		return fipInUseByPortForwarding(f.ID)
	}
	disassociateFIP(tx, f)
	if err := syncPortIndex(tx, f); err != nil {
		return err
	}
	port, err := l3Port(tx, f.floatingPort)
	if err != nil {
		return err
	}
	if port != nil {
		if err := deletePortKeys(tx, port); err != nil {
			return err
		}
	}
	tx.Delete(fipKey(f.ID))
	tx.Delete(store.EdgePoolKey(f.ID))
	return nil
}

// removeUnassociatedFloatingIPs deletes inside tx the floating IPs of
// external network netID that have no association, with their ports,
// addresses and quota ownership, as Neutron's
// delete_disassociated_floatingips does when the network is deleted. It
// returns the ids of the ports it deleted. An associated floating IP
// stays: its port keeps the network in use.
func (s *Server) removeUnassociatedFloatingIPs(ctx context.Context, tx *store.Tx, p auth.Principal, netID string) (map[string]bool, error) {
	// Listed outside tx, like the network's ports; a floating IP created
	// since has a port on the network, which the caller's guard covers.
	recs, _, err := store.ListOf[fipRecord](ctx, s.store, store.KindPrefix(store.KindFloatingIPs))
	if err != nil {
		return nil, err
	}
	ports := map[string]bool{}
	for _, rec := range recs {
		if rec.FloatingNetworkID != netID {
			continue
		}
		f, err := loadFIP(tx, rec.ID)
		if err != nil {
			return nil, err
		}
		if f == nil || f.PortID != "" || len(f.forwardings) > 0 {
			continue
		}
		if err := s.removeFloatingIP(ctx, tx, p, f); err != nil {
			return nil, err
		}
		tx.Delete(ownerKey(f.ProjectID, "floatingips", f.ID))
		ports[f.floatingPort] = true
	}
	return ports, nil
}

// disassociateFIP drops f's association, if any.
func disassociateFIP(tx *store.Tx, f *fipObj) {
	if f.heldPort != "" {
		tx.Delete(fipFixedKey(f.FloatingNetworkID, f.heldPort, f.heldFixed))
	}
	f.heldPort, f.heldFixed = "", ""
	f.PortID, f.FixedIPAddress, f.Status, f.PortDetails = "", "", model.StatusDown, nil
	if len(f.forwardings) == 0 {
		f.RouterID = "" // port forwardings keep theirs
	}
}

// associateFIP points f at a fixed address of a port, as Neutron's
// _internal_fip_assoc_data and get_router_for_floatingip do: the port must
// be the floating IP's project's, the address one of its IPv4 addresses
// (named when it has several), and a router must join the address's subnet
// to the floating IP's external network.
func (s *Server) associateFIP(ctx context.Context, tx *store.Tx, p auth.Principal, f *fipObj, portID, fixed string) error {
	if len(f.forwardings) > 0 {
		return fipInUseByPortForwarding(f.ID)
	}
	port, err := l3Port(tx, portID)
	if err != nil {
		return err
	}
	if port == nil || !owns(p, port) {
		return NotFound("Port", portID)
	}
	if port.ProjectID != f.ProjectID && !p.Admin {
		return fipBadRequest("Cannot process floating IP association with Port %s, since that port is owned by a different tenant", port.ID)
	}
	if err := refusePortWithForwardings(tx, port.ID); err != nil {
		return err
	}
	// Neutron's is_fip_serviced: only DHCP ports are refused.
	if port.DeviceOwner == model.OwnerDHCP {
		return fipBadRequest("Port %s is unable to be assigned a floating IP", port.ID)
	}
	var subnetID, ip string
	if fixed != "" {
		a, err := netip.ParseAddr(fixed)
		if err != nil || !a.Is4() {
			return fipBadRequest("Cannot process floating IP association with %s, since that is not an IPv4 address", fixed)
		}
		for _, fip := range port.FixedIPs {
			if fip.IPAddress == fixed {
				subnetID, ip = fip.SubnetID, fip.IPAddress
			}
		}
		if ip == "" {
			return fipBadRequest("Port %s does not have fixed ip %s", port.ID, fixed)
		}
	} else {
		var v4 []model.FixedIP
		for _, fip := range port.FixedIPs {
			if a, err := netip.ParseAddr(fip.IPAddress); err == nil && a.Is4() {
				v4 = append(v4, fip)
			}
		}
		switch len(v4) {
		case 0:
			return fipBadRequest("Cannot add floating IP to port %s that has no fixed IPv4 addresses", port.ID)
		case 1:
			subnetID, ip = v4[0].SubnetID, v4[0].IPAddress
		default:
			return fipBadRequest("Port %s has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP", port.ID)
		}
	}
	// The subnet of a port's address is on the port's network: it is read
	// there, with the address's floating IP key, the port's floating IP
	// index (which saveFIP writes) and the routers on the subnet, in one
	// round trip.
	key := fipFixedKey(f.FloatingNetworkID, port.ID, ip)
	// The port's network comes in the same round trip (a vlan or flat
	// one's port may not be on an edge-mode chassis, unserved.go).
	routers := tx.ListWith(routerSubnetsPrefix(subnetID), store.SubnetKey(port.NetworkID, subnetID), key, fipPortKey(port.ID),
		store.NetworkKey(port.NetworkID))
	if err := refuseEdgeProviderFIP(tx, port); err != nil {
		return err
	}
	sub, err := subnetOf(tx, port.NetworkID, subnetID)
	if err != nil {
		return err
	}
	if sub == nil {
		return NotFound("Subnet", subnetID)
	}
	if sub.GatewayIP == "" {
		return fipBadRequest("Cannot add floating IP to port on subnet %s which has no gateway_ip", sub.ID)
	}
	routerID, err := routerAmong(tx, routers, port, sub, f.FloatingNetworkID)
	if err != nil {
		return err
	}
	if holder := tx.GetString(key); holder != "" && holder != f.ID {
		return Conflict("FloatingIPPortAlreadyAssociated",
			"Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.",
			f.FloatingIPAddress, f.ID, port.ID, ip, f.FloatingNetworkID)
	}
	if f.heldPort != "" && (f.heldPort != port.ID || f.heldFixed != ip) {
		tx.Delete(fipFixedKey(f.FloatingNetworkID, f.heldPort, f.heldFixed))
	}
	tx.PutString(key, f.ID)
	f.heldPort, f.heldFixed = port.ID, ip
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status = port.ID, ip, routerID, model.StatusActive
	f.PortDetails = portDetails(port)
	return nil
}

// subnetOf reads subnet id of network netID inside tx; nil, nil when the
// network has no such subnet.
func subnetOf(tx *store.Tx, netID, id string) (*model.Subnet, error) {
	var sub model.Subnet
	ok, err := tx.Get(store.SubnetKey(netID, id), &sub)
	if err != nil || !ok {
		return nil, err
	}
	return &sub, nil
}

// routerForFIP finds a router with a gateway on extNet and an interface on
// sub, preferring the one whose interface holds the subnet's gateway
// address. The routers of the subnet are listed from the index at tx's
// snapshot, not into its read set; each is read inside it, so a change to
// it conflicts with the association.
func (s *Server) routerForFIP(ctx context.Context, tx *store.Tx, port *model.Port, sub *model.Subnet, extNet string) (string, error) {
	return routerAmong(tx, tx.ListWith(routerSubnetsPrefix(sub.ID)), port, sub, extNet)
}

// routerAmong is routerForFIP with the subnet's routers listed (kvs, the
// keys under routerSubnetsPrefix).
func routerAmong(tx *store.Tx, kvs []store.KV, port *model.Port, sub *model.Subnet, extNet string) (string, error) {
	prefix := routerSubnetsPrefix(sub.ID)
	// The routers and their interfaces on the subnet, in one round trip:
	// an interface holding an address of the subnet is a port of the
	// subnet's network.
	keys := make([]string, 0, 2*len(kvs))
	for _, kv := range kvs {
		keys = append(keys, routerKey(strings.TrimPrefix(kv.Key, prefix)), store.PortKey(sub.NetworkID, string(kv.Value)))
	}
	tx.Prefetch(keys...)
	first := ""
	for _, kv := range kvs {
		routerID := strings.TrimPrefix(kv.Key, prefix)
		ifaceID := string(kv.Value)
		rt, err := loadRouter(tx, routerID)
		if err != nil {
			return "", err
		}
		if rt == nil || rt.Gateway == nil || rt.Gateway.NetworkID != extNet || !slices.Contains(rt.ifaces, ifaceID) {
			continue
		}
		var iface model.Port
		if ok, err := tx.Get(store.PortKey(sub.NetworkID, ifaceID), &iface); err != nil {
			return "", err
		} else if !ok {
			continue
		}
		for _, ip := range iface.FixedIPs {
			if ip.SubnetID == sub.ID && ip.IPAddress == sub.GatewayIP {
				return routerID, nil
			}
		}
		if first == "" {
			first = routerID
		}
	}
	if first != "" {
		return first, nil
	}
	return "", newError(http.StatusNotFound, "ExternalGatewayForFloatingIPNotFound",
		"External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.",
		extNet, sub.ID, port.ID)
}

// fipThroughRouter returns the id of a floating IP associated through
// router routerID with a fixed address that match accepts, or "". The
// floating IPs are listed outside tx; each candidate is read inside it, and
// associating a floating IP reads the router, so a concurrent association
// conflicts with the caller's change to the router.
func (s *Server) fipThroughRouter(ctx context.Context, tx *store.Tx, routerID string, match func(fixedIP string) bool) (string, error) {
	fips, _, err := store.ListOf[fipRecord](ctx, s.store, store.KindPrefix(store.KindFloatingIPs))
	if err != nil {
		return "", err
	}
	for _, f := range fips {
		if f.RouterID != routerID || !match(f.FixedIPAddress) && !forwardsThrough(&f, match) {
			continue
		}
		var cur fipRecord
		ok, err := tx.Get(fipKey(f.ID), &cur)
		if err != nil {
			return "", err
		}
		if ok && cur.RouterID == routerID && forwardsThrough(&cur, match) {
			return cur.ID, nil
		}
		if !ok || cur.RouterID != routerID || !match(cur.FixedIPAddress) {
			continue
		}
		// A port deleted under its floating IP leaves no association.
		if port, err := l3Port(tx, cur.PortID); err != nil {
			return "", err
		} else if port != nil {
			return cur.ID, nil
		}
	}
	return "", nil
}

// forwardsThrough reports whether a port forwarding of f has an internal
// address that match accepts.
func forwardsThrough(f *fipRecord, match func(fixedIP string) bool) bool {
	for _, pf := range f.PortForwardings {
		if match(pf.InternalIPAddress) {
			return true
		}
	}
	return false
}

// disassociatePortFloatingIPs drops every association with port portID
// inside tx; the ports API calls it when it deletes a port, as Neutron's
// disassociate_floatingips does.
func (s *Server) disassociatePortFloatingIPs(ctx context.Context, tx *store.Tx, portID string) error {
	if err := s.dropPortForwardings(ctx, tx, portID); err != nil {
		return err
	}
	recs, err := fipsOnPort(tx, portID)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.PortID != portID {
			continue
		}
		f := fipFromRecord(&rec)
		disassociateFIP(tx, f)
		touch(f)
		if err := saveFIP(tx, f); err != nil {
			return err
		}
	}
	return nil
}

// fipPortKey indexes the floating IPs associated with a port: its value is
// the JSON list of their ids (sorted), absent when there is none. saveFIP
// keeps it in the transaction that associates or disassociates, so what
// needs the floating IPs of a port reads one key, not every floating IP,
// and conflicts with a concurrent association.
func fipPortKey(portID string) string { return store.IndexKey("port_floatingips", portID) }

// syncPortIndex moves f's id from the fipPortKey index of the port it was
// stored associated with to that of the port it is associated with now,
// inside tx.
func syncPortIndex(tx *store.Tx, f *fipObj) error {
	if f.storedPort == f.PortID {
		return nil
	}
	var keys []string
	for _, p := range []string{f.storedPort, f.PortID} {
		if p != "" {
			keys = append(keys, fipPortKey(p))
		}
	}
	tx.Prefetch(keys...)
	if f.storedPort != "" {
		if err := indexRemove(tx, fipPortKey(f.storedPort), f.ID); err != nil {
			return err
		}
	}
	if f.PortID != "" {
		if err := indexAdd(tx, fipPortKey(f.PortID), f.ID); err != nil {
			return err
		}
	}
	f.storedPort = f.PortID
	return nil
}

// fipsOnPort reads inside tx, in one round trip, the floating IPs the
// fipPortKey index of port portID names.
func fipsOnPort(tx *store.Tx, portID string) ([]fipRecord, error) {
	return fipRecordsIndexed(tx, fipPortKey(portID))
}

// fipRecordsIndexed reads inside tx the floating IPs whose ids the index
// at key lists: the index, then the records in one round trip.
func fipRecordsIndexed(tx *store.Tx, key string) ([]fipRecord, error) {
	ids, err := indexIDs(tx, key)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = fipKey(id)
	}
	tx.Prefetch(keys...)
	out := make([]fipRecord, 0, len(ids))
	for _, k := range keys {
		var rec fipRecord
		if ok, err := tx.Get(k, &rec); err != nil {
			return nil, err
		} else if ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

// indexIDs reads the ids an index key lists, inside tx.
func indexIDs(tx *store.Tx, key string) ([]string, error) {
	var ids []string
	if _, err := tx.Get(key, &ids); err != nil {
		return nil, err
	}
	return ids, nil
}

// indexAdd adds id to the index at key, inside tx.
func indexAdd(tx *store.Tx, key, id string) error {
	ids, err := indexIDs(tx, key)
	if err != nil || slices.Contains(ids, id) {
		return err
	}
	ids = append(ids, id)
	slices.Sort(ids)
	return tx.Put(key, ids)
}

// indexRemove removes id from the index at key, inside tx, and the key
// with the last id.
func indexRemove(tx *store.Tx, key, id string) error {
	ids, err := indexIDs(tx, key)
	if err != nil || !slices.Contains(ids, id) {
		return err
	}
	ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
	if len(ids) == 0 {
		tx.Delete(key)
		return nil
	}
	return tx.Put(key, ids)
}
