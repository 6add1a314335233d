package neutron

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/ipam"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// routerRecord is a router as stored: the model plus the ids of its ports,
// which the API does not show but every router change needs inside its
// transaction, and agents read to find the router's networks.
type routerRecord = model.RouterRecord

// routerObj is a router as the API shows it, with the stored port ids the
// API does not show.
type routerObj struct {
	model.Router
	AZHints []string `json:"availability_zone_hints"`
	AZs     []string `json:"availability_zones"`
	gwPort  string   // the gateway port's id, if any
	ifaces  []string // interface port ids
	ctZone  int      // the NAT's conntrack zone (zones.go)
}

func routerKey(id string) string { return store.ObjectKey(store.KindRouters, id) }

// routerSubnetKey indexes a router's interface on a subnet (the value is
// the port id), so floating IP association finds the routers of a subnet
// without reading every router.
func routerSubnetKey(subnetID, routerID string) string {
	return store.IndexKey("router_subnets", subnetID+"/"+routerID)
}

func routerSubnetsPrefix(subnetID string) string {
	return store.IndexKey("router_subnets", subnetID+"/")
}

func routerFromRecord(rec *routerRecord) *routerObj {
	r := &routerObj{Router: rec.Router, AZHints: []string{}, AZs: []string{}, gwPort: rec.GatewayPort, ifaces: rec.Interfaces, ctZone: rec.CTZone}
	// Every router is distributed, those stored before it said so too.
	r.Distributed = true
	if r.Routes == nil {
		r.Routes = []model.Route{}
	}
	return r
}

func loadRouter(tx *store.Tx, id string) (*routerObj, error) {
	var rec routerRecord
	ok, err := tx.Get(routerKey(id), &rec)
	if err != nil || !ok {
		return nil, err
	}
	return routerFromRecord(&rec), nil
}

func saveRouter(tx *store.Tx, r *routerObj) error {
	return tx.Put(routerKey(r.ID), &routerRecord{Router: r.Router, GatewayPort: r.gwPort, Interfaces: r.ifaces, CTZone: r.ctZone})
}

// l3Port reads a port by id inside tx (through the index); nil, nil when it
// does not exist.
func l3Port(tx *store.Tx, id string) (*model.Port, error) {
	if id == "" {
		return nil, nil
	}
	netID := tx.GetString(store.IndexKey(store.KindPorts, id))
	if netID == "" {
		return nil, nil
	}
	var port model.Port
	ok, err := tx.Get(store.PortKey(netID, id), &port)
	if err != nil || !ok {
		return nil, err
	}
	return &port, nil
}

// l3Subnet reads a subnet by id inside tx; nil, nil when it does not exist.
func l3Subnet(tx *store.Tx, id string) (*model.Subnet, error) {
	netID := tx.GetString(store.IndexKey(store.KindSubnets, id))
	if netID == "" {
		return nil, nil
	}
	var sub model.Subnet
	ok, err := tx.Get(store.SubnetKey(netID, id), &sub)
	if err != nil || !ok {
		return nil, err
	}
	return &sub, nil
}

// elevated is p with admin rights, for ports the server makes on a
// caller's behalf (Neutron's context.elevated()).
func elevated(p auth.Principal) auth.Principal {
	p.Admin = true
	return p
}

// routerBadRequest is Neutron's BadRequest(resource='router', msg=...).
func routerBadRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "BadRequest", "Bad router request: "+format+".", args...)
}

func routersResource(s *Server) *resource {
	return &resource{
		collection: "routers", singular: "router", kind: "Router",
		list: func(ctx context.Context) ([]model.Object, error) {
			recs, _, err := store.ListOf[routerRecord](ctx, s.store, store.KindPrefix(store.KindRouters))
			if err != nil {
				return nil, err
			}
			out := make([]model.Object, len(recs))
			for i := range recs {
				out[i] = routerFromRecord(&recs[i])
			}
			return out, nil
		},
		load:   func(tx *store.Tx, id string) (model.Object, error) { return orNil(loadRouter(tx, id)) },
		save:   func(tx *store.Tx, o model.Object) error { return saveRouter(tx, o.(*routerObj)) },
		create: s.createRouter,
		update: s.updateRouter,
		remove: s.removeRouter,
		extra: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("PUT /v2.0/routers/{id}/add_router_interface", s.handleRouterInterface(true))
			mux.HandleFunc("PUT /v2.0/routers/{id}/remove_router_interface", s.handleRouterInterface(false))
			mux.HandleFunc("PUT /v2.0/routers/{id}/add_extraroutes", s.handleExtraRoutes(true))
			mux.HandleFunc("PUT /v2.0/routers/{id}/remove_extraroutes", s.handleExtraRoutes(false))
		},
	}
}

// routerFlags applies admin_state_up, and refuses ha routers (Wyvern's
// have no standby: routing is distributed, the gateway elected).
func routerFlags(r *routerObj, a attrs) error {
	if v, ok, err := a.boolean("admin_state_up"); err != nil {
		return err
	} else if ok {
		r.AdminStateUp = v
	}
	if v, _, err := a.boolean("ha"); err != nil {
		return err
	} else if v {
		return InvalidInput("ha routers are not supported")
	}
	return nil
}

// checkDistributed checks the dvr extension's distributed attribute of a
// router create or update (action "create_router" or "update_router").
// Every Wyvern router is distributed: true is accepted and changes
// nothing, false is refused. As in Neutron's default policy, only an
// admin may give the attribute at all.
func checkDistributed(p auth.Principal, action string, a attrs) error {
	if !a.has("distributed") {
		return nil
	}
	v, ok, err := a.boolean("distributed")
	if err != nil {
		return err
	}
	if !p.Admin {
		return Forbidden("(rule:%s:distributed) is disallowed by policy", action)
	}
	if ok && !v {
		return routerBadRequest("Wyvern routers are always distributed; distributed cannot be false")
	}
	return nil
}

func (s *Server) createRouter(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only("name", "description", "project_id", "tenant_id", "admin_state_up", "external_gateway_info",
		"distributed", "ha", "availability_zone_hints"); err != nil {
		return nil, err
	}
	if err := checkDistributed(p, "create_router", a); err != nil {
		return nil, err
	}
	r := &routerObj{Router: model.Router{Standard: std, AdminStateUp: true, Status: model.StatusActive, Routes: []model.Route{},
		Distributed: true}, AZHints: []string{}, AZs: []string{}}
	if err := s.applyRouterAttrs(ctx, tx, p, r, a); err != nil {
		return nil, err
	}
	var err error
	if r.ctZone, err = allocateCTZone(tx, r.ID); err != nil {
		return nil, err
	}
	return r, saveRouter(tx, r)
}

// applyRouterAttrs applies the attributes create and update share: name,
// description, flags and the external gateway.
func (s *Server) applyRouterAttrs(ctx context.Context, tx *store.Tx, p auth.Principal, r *routerObj, a attrs) error {
	if err := a.common(&r.Name, &r.Description); err != nil {
		return err
	}
	if err := routerFlags(r, a); err != nil {
		return err
	}
	if !a.has("external_gateway_info") {
		return nil
	}
	gw, err := parseGatewayInfo(a)
	if err != nil {
		return err
	}
	return s.setGateway(ctx, tx, p, r, gw)
}

func (s *Server) updateRouter(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	r := cur.(*routerObj)
	if err := a.only("name", "description", "admin_state_up", "external_gateway_info", "routes", "distributed", "ha"); err != nil {
		return nil, err
	}
	if err := checkDistributed(p, "update_router", a); err != nil {
		return nil, err
	}
	if err := s.applyRouterAttrs(ctx, tx, p, r, a); err != nil {
		return nil, err
	}
	if a.has("routes") {
		routes, err := parseRoutes(a["routes"])
		if err != nil {
			return nil, err
		}
		if err := s.validateRoutes(tx, r, routes); err != nil {
			return nil, err
		}
		r.Routes = routes
	}
	touch(r)
	return r, saveRouter(tx, r)
}

// removeRouter deletes a router without interfaces, with its gateway port.
func (s *Server) removeRouter(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	r := cur.(*routerObj)
	for _, id := range r.ifaces {
		port, err := l3Port(tx, id)
		if err != nil {
			return err
		}
		if port != nil {
			return Conflict("RouterInUse", "Router %s still has ports", r.ID)
		}
	}
	if err := s.deleteGatewayPort(tx, r); err != nil {
		return err
	}
	freeCTZone(tx, r.ctZone)
	tx.Delete(routerKey(r.ID))
	return nil
}

// gatewayRequest is a parsed external_gateway_info.
type gatewayRequest struct {
	clear     bool
	networkID string
	snat      *bool
	fixedIPs  []model.ExternalFixedIP
	hasIPs    bool
}

func parseGatewayInfo(a attrs) (*gatewayRequest, error) {
	raw := a["external_gateway_info"]
	if string(raw) == "null" {
		return &gatewayRequest{clear: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, BadRequest("Invalid input for external_gateway_info. Reason: '%s' is not a dictionary.", string(raw))
	}
	if len(m) == 0 {
		return &gatewayRequest{clear: true}, nil
	}
	g := attrs(m)
	if err := g.only("network_id", "enable_snat", "external_fixed_ips", "qos_policy_id"); err != nil {
		return nil, BadRequest("Invalid input for external_gateway_info. Reason: %s.", err.(*Error).Message)
	}
	if q, _, err := g.str("qos_policy_id"); err != nil || q != "" {
		return nil, BadRequest("Invalid input for external_gateway_info. Reason: qos_policy_id is not supported.")
	}
	req := &gatewayRequest{}
	id, _, err := g.str("network_id")
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, BadRequest("Invalid input for external_gateway_info. Reason: Validation of dictionary's keys failed. Expected keys: {'network_id'}.")
	}
	req.networkID = id
	if v, ok, err := g.boolean("enable_snat"); err != nil {
		return nil, err
	} else if ok {
		req.snat = &v
	}
	if g.has("external_fixed_ips") && !g.isNull("external_fixed_ips") {
		var ips []model.ExternalFixedIP
		if _, err := g.into("external_fixed_ips", &ips); err != nil {
			return nil, err
		}
		for _, ip := range ips {
			if ip.IPAddress != "" {
				if _, err := netip.ParseAddr(ip.IPAddress); err != nil {
					return nil, InvalidInput("'%s' is not a valid IP address", ip.IPAddress)
				}
			}
		}
		req.fixedIPs, req.hasIPs = ips, true
	}
	return req, nil
}

// setGateway connects r to an external network, or disconnects it. The
// gateway port is made or deleted in the caller's transaction.
func (s *Server) setGateway(ctx context.Context, tx *store.Tx, p auth.Principal, r *routerObj, req *gatewayRequest) error {
	if !p.Admin && req.snat != nil {
		return Forbidden("(rule:update_router:external_gateway_info:enable_snat) is disallowed by policy")
	}
	if !p.Admin && req.hasIPs {
		return Forbidden("(rule:update_router:external_gateway_info:external_fixed_ips) is disallowed by policy")
	}
	if req.clear {
		if r.Gateway == nil {
			return nil
		}
		if err := s.checkGatewayUnused(ctx, tx, r); err != nil {
			return err
		}
		if err := s.deleteGatewayPort(tx, r); err != nil {
			return err
		}
		r.Gateway, r.gwPort = nil, ""
		return nil
	}
	n, err := loadNetwork(tx, req.networkID)
	if err != nil {
		return err
	}
	if n == nil || !(p.Admin || n.ProjectID == p.ProjectID || n.Shared || n.External) {
		return NotFound("Network", req.networkID)
	}
	if !n.External {
		return routerBadRequest("Network %s is not an external network", n.ID)
	}
	snat := true
	if req.snat != nil {
		snat = *req.snat
	}
	if r.Gateway != nil && r.Gateway.NetworkID == n.ID && !externalIPChange(r.Gateway.ExternalFixedIPs, req.fixedIPs) {
		r.Gateway.EnableSNAT = snat
		return nil
	}
	want, err := gatewayFixedIPs(tx, n, req.fixedIPs)
	if err != nil {
		return err
	}
	var port *model.Port
	if r.Gateway != nil && r.Gateway.NetworkID == n.ID {
		// Same network, other addresses: the gateway port keeps its id
		// and the addresses still asked for, as Neutron's
		// _update_current_gw_port.
		if port, err = s.regatewayPort(ctx, tx, n, r, want); err != nil {
			return err
		}
	} else {
		if r.Gateway != nil {
			if err := s.checkGatewayUnused(ctx, tx, r); err != nil {
				return err
			}
			if err := s.deleteGatewayPort(tx, r); err != nil {
				return err
			}
			r.Gateway, r.gwPort = nil, ""
		}
		port, err = s.allocatePort(ctx, tx, elevated(p), portSpec{
			NetworkID: n.ID, DeviceOwner: model.OwnerRouterGateway, DeviceID: r.ID, FixedIPs: want, NoSecurity: true,
		})
		if err != nil {
			return err
		}
	}
	if len(port.FixedIPs) == 0 {
		return routerBadRequest("No IPs available for external network %s", n.ID)
	}
	if err := markPortActive(tx, port); err != nil {
		return err
	}
	// The gateway's subnets may not overlap the router's interfaces.
	ifaces, err := s.interfacePorts(tx, r)
	if err != nil {
		return err
	}
	var attached []string
	for _, ip := range port.FixedIPs {
		attached = append(attached, ip.SubnetID)
	}
	if err := checkOverlap(tx, subnetsOf(ifaces), attached); err != nil {
		return err
	}
	gw := &model.GatewayInfo{NetworkID: n.ID, EnableSNAT: snat, ExternalFixedIPs: []model.ExternalFixedIP{}}
	for _, ip := range port.FixedIPs {
		gw.ExternalFixedIPs = append(gw.ExternalFixedIPs, model.ExternalFixedIP{SubnetID: ip.SubnetID, IPAddress: ip.IPAddress})
	}
	r.Gateway, r.gwPort = gw, port.ID
	return nil
}

// externalIPChange reports whether requested external_fixed_ips differ
// from the gateway's current ones, as Neutron's
// l3_db._check_for_external_ip_change: no request is no change, and a
// request changes something only when its set of subnets or its set of
// given addresses differs from the current ones. So listing the current
// address plus {subnet_id} of the same subnet changes nothing.
func externalIPChange(have, want []model.ExternalFixedIP) bool {
	if len(want) == 0 {
		return false
	}
	set := func(l []model.ExternalFixedIP, f func(model.ExternalFixedIP) string) map[string]bool {
		m := map[string]bool{}
		for _, ip := range l {
			if v := f(ip); v != "" {
				m[v] = true
			}
		}
		return m
	}
	subnet := func(ip model.ExternalFixedIP) string { return ip.SubnetID }
	addr := func(ip model.ExternalFixedIP) string {
		if a, err := netip.ParseAddr(ip.IPAddress); err == nil {
			return a.String()
		}
		return ip.IPAddress
	}
	return !maps.Equal(set(have, subnet), set(want, subnet)) || !maps.Equal(set(have, addr), set(want, addr))
}

// gatewayFixedIPs validates requested external_fixed_ips on the external
// network n, as Neutron's _validate_gw_info, and returns them as a port's
// fixed IP request.
func gatewayFixedIPs(tx *store.Tx, n *model.Network, ips []model.ExternalFixedIP) ([]model.FixedIP, error) {
	var want []model.FixedIP
	for _, ip := range ips {
		if ip.SubnetID != "" {
			sub, err := l3Subnet(tx, ip.SubnetID)
			if err != nil {
				return nil, err
			}
			if sub == nil || sub.NetworkID != n.ID {
				return nil, routerBadRequest("Subnet %s is not on external network %s", ip.SubnetID, n.ID)
			}
			if ip.IPAddress != "" && ip.IPAddress == sub.GatewayIP {
				return nil, routerBadRequest("External IP %s is the same as the gateway IP", ip.IPAddress)
			}
		}
		want = append(want, model.FixedIP{SubnetID: ip.SubnetID, IPAddress: ip.IPAddress})
	}
	return want, nil
}

// regatewayPort changes the addresses of r's gateway port on n in place:
// addresses still requested stay, the rest are freed, new ones allocated.
func (s *Server) regatewayPort(ctx context.Context, tx *store.Tx, n *model.Network, r *routerObj, want []model.FixedIP) (*model.Port, error) {
	port, err := l3Port(tx, r.gwPort)
	if err != nil {
		return nil, err
	}
	if port == nil {
		return nil, NotFound("Port", r.gwPort)
	}
	reqs := make([]fixedIPReq, 0, len(want))
	for _, f := range want {
		rq := fixedIPReq{SubnetID: f.SubnetID}
		if f.IPAddress != "" {
			ip, err := ipam.ParseAddr(f.IPAddress)
			if err != nil {
				return nil, badAttr("fixed_ips", "'%s' is not a valid IP address", f.IPAddress)
			}
			rq.IP = ip
		}
		reqs = append(reqs, rq)
	}
	al := newAllocator(ctx, s, tx, n, port.ID, port.MACAddress, port.DeviceOwner)
	if port.FixedIPs, err = al.update(port.FixedIPs, reqs); err != nil {
		return nil, err
	}
	touch(port)
	return port, tx.Put(store.PortKey(port.NetworkID, port.ID), port)
}

// markPortActive sets a router port's status: router ports have no VIF to
// bind, so they are up as soon as they exist.
func markPortActive(tx *store.Tx, port *model.Port) error {
	if port.Status == model.StatusActive {
		return nil
	}
	port.Status = model.StatusActive
	return tx.Put(store.PortKey(port.NetworkID, port.ID), port)
}

func (s *Server) deleteGatewayPort(tx *store.Tx, r *routerObj) error {
	port, err := l3Port(tx, r.gwPort)
	if err != nil || port == nil {
		return err
	}
	return deletePortKeys(tx, port)
}

// checkGatewayUnused fails while a floating IP reaches its port through
// r's gateway.
func (s *Server) checkGatewayUnused(ctx context.Context, tx *store.Tx, r *routerObj) error {
	fip, err := s.fipThroughRouter(ctx, tx, r.ID, func(string) bool { return true })
	if err != nil {
		return err
	}
	if fip != "" {
		return Conflict("RouterExternalGatewayInUseByFloatingIp",
			"Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.",
			r.ID, r.Gateway.NetworkID)
	}
	return nil
}

// interfacePorts reads r's interface ports inside tx.
func (s *Server) interfacePorts(tx *store.Tx, r *routerObj) ([]*model.Port, error) {
	var out []*model.Port
	for _, id := range r.ifaces {
		port, err := l3Port(tx, id)
		if err != nil {
			return nil, err
		}
		if port != nil {
			out = append(out, port)
		}
	}
	return out, nil
}

func subnetsOf(ports []*model.Port) []string {
	var out []string
	for _, p := range ports {
		for _, ip := range p.FixedIPs {
			out = append(out, ip.SubnetID)
		}
	}
	return out
}

// checkOverlap fails when a new subnet's CIDR overlaps one already
// attached, as Neutron's _check_for_dup_router_subnets does.
func checkOverlap(tx *store.Tx, attached, added []string) error {
	for _, aid := range attached {
		old, err := l3Subnet(tx, aid)
		if err != nil {
			return err
		}
		if old == nil {
			continue
		}
		op, err := netip.ParsePrefix(old.CIDR)
		if err != nil {
			continue
		}
		for _, nid := range added {
			sub, err := l3Subnet(tx, nid)
			if err != nil {
				return err
			}
			if sub == nil {
				continue
			}
			np, err := netip.ParsePrefix(sub.CIDR)
			if err == nil && op.Overlaps(np) {
				return routerBadRequest("Cidr %s of subnet %s overlaps with cidr %s of subnet %s", sub.CIDR, sub.ID, old.CIDR, old.ID)
			}
		}
	}
	return nil
}

// interfaceSubnet reads the subnet a router interface call names, if p
// may attach it to a router: its own, or one on a shared network (admins:
// any). Otherwise it answers SubnetNotFound.
func interfaceSubnet(tx *store.Tx, p auth.Principal, id string) (*model.Subnet, error) {
	sub, err := l3Subnet(tx, id)
	if err != nil {
		return nil, err
	}
	if sub != nil && !p.Admin && sub.ProjectID != p.ProjectID {
		n, err := loadNetwork(tx, sub.NetworkID)
		if err != nil {
			return nil, err
		}
		if n == nil || !n.Shared {
			sub = nil
		}
	}
	if sub == nil {
		return nil, NotFound("Subnet", id)
	}
	return sub, nil
}

// handleRouterInterface serves PUT /v2.0/routers/{id}/add_router_interface
// and remove_router_interface.
func (s *Server) handleRouterInterface(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		id := r.PathValue("id")
		var a attrs
		if err := decodeJSON(r, &a); err != nil {
			s.writeError(w, r, err)
			return
		}
		if a == nil {
			s.writeError(w, r, BadRequest("Malformed request body"))
			return
		}
		subnetID, _, err := a.str("subnet_id")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		portID, _, err := a.str("port_id")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if subnetID == "" && portID == "" {
			s.writeError(w, r, routerBadRequest("Either subnet_id or port_id must be specified"))
			return
		}
		if add && subnetID != "" && portID != "" {
			s.writeError(w, r, routerBadRequest("Cannot specify both subnet-id and port-id"))
			return
		}
		ctx := r.Context()
		var info map[string]any
		err = s.store.Txn(ctx, func(tx *store.Tx) error {
			rt, err := loadRouter(tx, id)
			if err != nil {
				return err
			}
			if rt == nil || !owns(p, rt) {
				return NotFound("Router", id)
			}
			// l3_db's _validate_interface_info, once the router is found:
			// each id given must be a UUID.
			for _, v := range []string{portID, subnetID} {
				if v != "" && !isUUID(v) {
					return routerBadRequest("'%s' is not a valid UUID", v)
				}
			}
			var port *model.Port
			if add {
				port, err = s.addInterface(ctx, tx, p, rt, subnetID, portID)
			} else {
				port, err = s.removeInterface(ctx, tx, p, rt, subnetID, portID)
			}
			if err != nil {
				return err
			}
			touch(rt)
			if err := saveRouter(tx, rt); err != nil {
				return err
			}
			info = interfaceInfo(rt, port)
			return nil
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, info)
	}
}

func interfaceInfo(r *routerObj, port *model.Port) map[string]any {
	subnets := []string{}
	for _, ip := range port.FixedIPs {
		subnets = append(subnets, ip.SubnetID)
	}
	first := ""
	if len(subnets) > 0 {
		first = subnets[0]
	}
	return map[string]any{
		"id": r.ID, "tenant_id": r.ProjectID, "project_id": r.ProjectID, "port_id": port.ID,
		"network_id": port.NetworkID, "subnet_id": first, "subnet_ids": subnets, "tags": nonNil(port.Tags),
	}
}

func (s *Server) addInterface(ctx context.Context, tx *store.Tx, p auth.Principal, r *routerObj, subnetID, portID string) (*model.Port, error) {
	ifaces, err := s.interfacePorts(tx, r)
	if err != nil {
		return nil, err
	}
	attached := subnetsOf(ifaces)
	all := slices.Clone(attached)
	if r.Gateway != nil {
		for _, ip := range r.Gateway.ExternalFixedIPs {
			all = append(all, ip.SubnetID)
		}
	}
	var port *model.Port
	if subnetID != "" {
		sub, err := interfaceSubnet(tx, p, subnetID)
		if err != nil {
			return nil, err
		}
		if slices.Contains(all, sub.ID) {
			return nil, routerBadRequest("Router already has a port on subnet %s", sub.ID)
		}
		if sub.GatewayIP == "" {
			return nil, routerBadRequest("Subnet for router interface must have a gateway IP")
		}
		if err := checkOverlap(tx, attached, []string{sub.ID}); err != nil {
			return nil, err
		}
		port, err = s.allocatePort(ctx, tx, elevated(p), portSpec{
			ProjectID: r.ProjectID, NetworkID: sub.NetworkID, DeviceOwner: model.OwnerRouterInterface, DeviceID: r.ID,
			FixedIPs: []model.FixedIP{{SubnetID: sub.ID, IPAddress: sub.GatewayIP}}, NoSecurity: true,
		})
		if err != nil {
			return nil, err
		}
		if err := markPortActive(tx, port); err != nil {
			return nil, err
		}
	} else {
		port, err = l3Port(tx, portID)
		if err != nil {
			return nil, err
		}
		if port == nil || !owns(p, port) {
			return nil, NotFound("Port", portID)
		}
		if n, err := loadNetwork(tx, port.NetworkID); err != nil {
			return nil, err
		} else if n != nil {
			if err := refuseProviderPort(n, model.OwnerRouterInterface); err != nil {
				return nil, err
			}
		}
		if port.DeviceID != "" || port.DeviceOwner != "" {
			dev := port.DeviceID
			if dev == "" {
				dev = port.DeviceOwner
			}
			return nil, Conflict("PortInUse", "Unable to complete operation on port %s for network %s. Port already has an attached device %s.",
				port.ID, port.NetworkID, dev)
		}
		if len(port.FixedIPs) == 0 {
			return nil, routerBadRequest("Router port must have at least one fixed IP")
		}
		v4 := 0
		var added []string
		for _, ip := range port.FixedIPs {
			if a, err := netip.ParseAddr(ip.IPAddress); err == nil && a.Is4() {
				v4++
			}
			if slices.Contains(all, ip.SubnetID) {
				return nil, routerBadRequest("Router already has a port on subnet %s", ip.SubnetID)
			}
			added = append(added, ip.SubnetID)
		}
		if v4 > 1 {
			return nil, routerBadRequest("Cannot have multiple IPv4 subnets on router port")
		}
		if err := checkOverlap(tx, attached, added); err != nil {
			return nil, err
		}
		port.DeviceOwner, port.DeviceID, port.Status = model.OwnerRouterInterface, r.ID, model.StatusActive
		touch(port)
		if err := tx.Put(store.PortKey(port.NetworkID, port.ID), port); err != nil {
			return nil, err
		}
	}
	r.ifaces = append(r.ifaces, port.ID)
	for _, ip := range port.FixedIPs {
		tx.PutString(routerSubnetKey(ip.SubnetID, r.ID), port.ID)
	}
	return port, nil
}

func (s *Server) removeInterface(ctx context.Context, tx *store.Tx, p auth.Principal, r *routerObj, subnetID, portID string) (*model.Port, error) {
	var port *model.Port
	if portID != "" {
		var err error
		port, err = l3Port(tx, portID)
		if err != nil {
			return nil, err
		}
		if port == nil || port.DeviceID != r.ID || port.DeviceOwner != model.OwnerRouterInterface {
			return nil, newError(http.StatusNotFound, "RouterInterfaceNotFound",
				"Router %s does not have an interface with id %s", r.ID, portID)
		}
		if subnetID != "" && !slices.ContainsFunc(port.FixedIPs, func(ip model.FixedIP) bool { return ip.SubnetID == subnetID }) {
			return nil, newError(http.StatusBadRequest, "SubnetMismatchForPort",
				"Subnet on port %s does not match the requested subnet %s", portID, subnetID)
		}
	} else {
		if _, err := interfaceSubnet(tx, p, subnetID); err != nil {
			return nil, err
		}
		ifaces, err := s.interfacePorts(tx, r)
		if err != nil {
			return nil, err
		}
		for _, ip := range ifaces {
			if slices.ContainsFunc(ip.FixedIPs, func(f model.FixedIP) bool { return f.SubnetID == subnetID }) {
				port = ip
				break
			}
		}
		if port == nil {
			return nil, newError(http.StatusNotFound, "RouterInterfaceNotFoundForSubnet",
				"Router %s has no interface on subnet %s", r.ID, subnetID)
		}
	}
	for _, ip := range port.FixedIPs {
		sub, err := l3Subnet(tx, ip.SubnetID)
		if err != nil {
			return nil, err
		}
		if sub == nil {
			continue
		}
		prefix, err := netip.ParsePrefix(sub.CIDR)
		if err != nil {
			continue
		}
		in := func(addr string) bool {
			a, err := netip.ParseAddr(addr)
			return err == nil && prefix.Contains(a)
		}
		fip, err := s.fipThroughRouter(ctx, tx, r.ID, in)
		if err != nil {
			return nil, err
		}
		if fip != "" {
			return nil, Conflict("RouterInterfaceInUseByFloatingIP",
				"Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", sub.ID, r.ID)
		}
		for _, rt := range r.Routes {
			if in(rt.NextHop) {
				return nil, Conflict("RouterInterfaceInUse",
					"Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more routes.", sub.ID, r.ID)
			}
		}
	}
	if err := deletePortKeys(tx, port); err != nil {
		return nil, err
	}
	r.ifaces = slices.DeleteFunc(r.ifaces, func(id string) bool { return id == port.ID })
	for _, ip := range port.FixedIPs {
		tx.Delete(routerSubnetKey(ip.SubnetID, r.ID))
	}
	return port, nil
}

// maxRoutes is Neutron's max_routes default.
const maxRoutes = 30

// parseRoutes reads a routes attribute: a list of destination/nexthop
// pairs, each destination a network address.
func parseRoutes(raw json.RawMessage) ([]model.Route, error) {
	if string(raw) == "null" {
		return []model.Route{}, nil
	}
	var in []model.Route
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, BadRequest("Invalid input for routes. Reason: Invalid data format for hostroute: '%s'.", string(raw))
	}
	out := []model.Route{}
	for _, rt := range in {
		dst, err := netip.ParsePrefix(rt.Destination)
		if err != nil {
			return nil, BadRequest("Invalid input for routes. Reason: '%s' is not a valid IP subnet.", rt.Destination)
		}
		if dst.Masked() != dst {
			return nil, BadRequest("Invalid input for routes. Reason: '%s' isn't a recognized IP subnet cidr, '%s' is recommended.", rt.Destination, dst.Masked())
		}
		hop, err := netip.ParseAddr(rt.NextHop)
		if err != nil {
			return nil, BadRequest("Invalid input for routes. Reason: '%s' is not a valid IP address.", rt.NextHop)
		}
		if hop.Is4() != dst.Addr().Is4() {
			return nil, BadRequest("Invalid input for routes. Reason: nexthop %s and destination %s are of different IP versions.", rt.NextHop, rt.Destination)
		}
		r := model.Route{Destination: dst.String(), NextHop: hop.String()}
		if slices.Contains(out, r) {
			return nil, BadRequest("Invalid input for routes. Reason: Duplicate hostroute '%s'.", rt.Destination)
		}
		out = append(out, r)
	}
	return out, nil
}

func invalidRoutes(routes []model.Route, reason string) *Error {
	b, _ := json.Marshal(routes)
	return newError(http.StatusBadRequest, "InvalidRoutes", "Invalid format for routes: %s, %s.", string(b), reason)
}

// validateRoutes checks that every nexthop is on a subnet the router is
// attached to and is not one of the router's own addresses.
func (s *Server) validateRoutes(tx *store.Tx, r *routerObj, routes []model.Route) error {
	if len(routes) > maxRoutes {
		return newError(http.StatusBadRequest, "RoutesExhausted",
			"Unable to complete operation for %s. The number of routes exceeds the maximum %d.", r.ID, maxRoutes)
	}
	if len(routes) == 0 {
		return nil
	}
	ports, err := s.interfacePorts(tx, r)
	if err != nil {
		return err
	}
	if gw, err := l3Port(tx, r.gwPort); err != nil {
		return err
	} else if gw != nil {
		ports = append(ports, gw)
	}
	var prefixes []netip.Prefix
	var own []string
	for _, port := range ports {
		for _, ip := range port.FixedIPs {
			own = append(own, ip.IPAddress)
			sub, err := l3Subnet(tx, ip.SubnetID)
			if err != nil {
				return err
			}
			if sub == nil {
				continue
			}
			if p, err := netip.ParsePrefix(sub.CIDR); err == nil {
				prefixes = append(prefixes, p)
			}
		}
	}
	for _, rt := range routes {
		hop := netip.MustParseAddr(rt.NextHop)
		if !slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(hop) }) {
			return invalidRoutes(routes, "the nexthop is not connected with router")
		}
		if slices.Contains(own, rt.NextHop) {
			return invalidRoutes(routes, "the nexthop is used by router")
		}
	}
	return nil
}

// handleExtraRoutes serves PUT /v2.0/routers/{id}/add_extraroutes and
// remove_extraroutes (extraroute-atomic): routes are added or removed as a
// set in one transaction.
func (s *Server) handleExtraRoutes(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		id := r.PathValue("id")
		items, _, err := decodeBody(r, "router", "")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		a := items[0]
		if err := a.only("routes"); err != nil {
			s.writeError(w, r, err)
			return
		}
		if !a.has("routes") {
			s.writeError(w, r, BadRequest("Failed to parse request. Required attribute 'routes' not specified"))
			return
		}
		change, err := parseRoutes(a["routes"])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var out *routerObj
		err = s.store.Txn(r.Context(), func(tx *store.Tx) error {
			rt, err := loadRouter(tx, id)
			if err != nil {
				return err
			}
			if rt == nil || !owns(p, rt) {
				return NotFound("Router", id)
			}
			routes := slices.Clone(rt.Routes)
			for _, c := range change {
				i := slices.Index(routes, c)
				switch {
				case add && i < 0:
					routes = append(routes, c)
				case !add && i >= 0:
					routes = slices.Delete(routes, i, i+1)
				}
			}
			if add {
				if err := s.validateRoutes(tx, rt, routes); err != nil {
					return err
				}
			}
			rt.Routes = routes
			touch(rt)
			out = rt
			return saveRouter(tx, rt)
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"router": out})
	}
}
