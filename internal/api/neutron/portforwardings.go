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
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Floating-IP port forwarding (issue 14): Neutron's
// floating-ip-port-forwarding extension, a sub-resource of a floating IP,
// /v2.0/floatingips/{fip}/port_forwardings, with the behaviours of
// neutron's pf_plugin:
//
//   - a floating IP holds either an association (port_id) or port
//     forwardings: creating a forwarding on an associated floating IP is a
//     409 FloatingIPPortAlreadyAssociated, associating one with forwardings
//     a 409 FipInUseByPortForwarding (deleting it too), and associating a
//     floating IP with a port that is the target of forwardings a 400
//     PortHasPortForwarding (every Wyvern router is distributed);
//   - a port with a floating IP cannot be the target of a forwarding (409
//     PortHasBindingFloatingIP);
//   - internal_ip_address must be an IPv4 address of internal_port_id (the
//     first one when omitted), and a router must join its subnet to the
//     floating IP's external network (the floating IP's router_id is set
//     by the first forwarding, cleared with the last; every forwarding of
//     a floating IP must go through that router);
//   - two forwardings of a floating IP may not share protocol and
//     external port, nor two forwardings of a port its protocol, address
//     and internal port (400, as Neutron's port collision check);
//   - the floating IP's project scopes them: another project gets 404.
//
// The forwardings are stored in their floating IP's record, so a change is
// one transaction on one key, and the store copies the floating IP to the
// networks of the forwardings' internal ports, where the chassis that host
// them see it. The distributed NAT serves them (logical, pipeline); the
// stateless edge cannot (it has no connection state to rewrite replies'
// ports by), so a forwarding to a port bound on a chassis in edge mode is
// refused. Only TCP and UDP are served. Port ranges (the
// floating-ip-port-forwarding-port-ranges extension) are served 1-N (a
// range of external ports to one internal port) and N-N with the same
// ports inside and out; N-N shifted to other ports is refused (conntrack's
// NAT cannot keep an offset).

func init() {
	extensions = append(extensions, dated([]extension{
		{Alias: "floating-ip-port-forwarding", Name: "Floating IP Port Forwarding",
			Description: "Allow users to forward some port of an existing floating IP to a specific port of the internal neutron port"},
		{Alias: "expose-port-forwarding-in-fip", Name: "Expose Port Forwardings in Floating IP",
			Description: "Expose the port forwardings of a floating IP in its body"},
		{Alias: "floating-ip-port-forwarding-description", Name: "Floating IP Port Forwarding new attribute description",
			Description: "Add a description field to Port Forwarding rules"},
		{Alias: "floating-ip-port-forwarding-port-ranges", Name: "Floating IP Port Forwarding support port ranges",
			Description: "Allow port forwarding rules to use port ranges"},
	})...)
}

// pfBrief is a forwarding as a floating IP's body lists it.
type pfBrief struct {
	ID                string `json:"id"`
	InternalIPAddress string `json:"internal_ip_address"`
	Protocol          string `json:"protocol"`
	InternalPort      *int   `json:"internal_port"` // nil: a range
	ExternalPort      *int   `json:"external_port"`
	InternalPortID    string `json:"internal_port_id"`
}

// showForwardings fills the floating IP's port_forwardings from its
// stored forwardings.
func (f *fipObj) showForwardings() {
	f.PortForwardings = make([]pfBrief, len(f.forwardings))
	for i, pf := range f.forwardings {
		f.PortForwardings[i] = pfBrief{ID: pf.ID, InternalIPAddress: pf.InternalIPAddress, Protocol: pf.Protocol,
			InternalPort: nonZero(pf.InternalPort), ExternalPort: nonZero(pf.ExternalPort), InternalPortID: pf.InternalPortID}
	}
}

func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// pfBadRequest is Neutron's BadRequest(resource='port_forwarding', msg=...).
func pfBadRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, "BadRequest", "Bad port_forwarding request: "+format+".", args...)
}

func pfNotFound(id string) *Error {
	return newError(http.StatusNotFound, "PortForwardingNotFound", "Port Forwarding %s could not be found.", id)
}

func fipInUseByPortForwarding(id string) *Error {
	return Conflict("FipInUseByPortForwarding", "Floating IP %s in use by Port Forwarding resources.", id)
}

func (s *Server) registerPortForwardings(mux *http.ServeMux) {
	base := "/v2.0/floatingips/{fip}/port_forwardings"
	mux.HandleFunc("GET "+base, s.handlePFList)
	mux.HandleFunc("POST "+base, s.handlePFCreate)
	mux.HandleFunc("GET "+base+"/{id}", s.handlePFShow)
	mux.HandleFunc("PUT "+base+"/{id}", s.handlePFUpdate)
	mux.HandleFunc("DELETE "+base+"/{id}", s.handlePFDelete)
}

// pfFIP loads the floating IP of the request for p: 404 when it does not
// exist or p may not see it.
func (s *Server) pfFIP(tx *store.Tx, p auth.Principal, id string) (*fipObj, error) {
	f, err := loadFIP(tx, id)
	if err != nil {
		return nil, err
	}
	if f == nil || !owns(p, f) {
		return nil, NotFound("FloatingIP", id)
	}
	return f, nil
}

// pfFilterRefused are the attributes Neutron refuses to filter on.
var pfFilterRefused = []string{"internal_ip_address", "internal_port"}

func (s *Server) handlePFList(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var f *fipObj
	err := s.store.Txn(r.Context(), func(tx *store.Tx) error {
		var err error
		f, err = s.pfFIP(tx, p, r.PathValue("fip"))
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	out := []any{}
	for _, pf := range f.forwardings {
		m, err := pfMap(pf)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		match := true
		for k, want := range q {
			if k == "fields" || k == "sort_key" || k == "sort_dir" || k == "limit" || k == "marker" || k == "page_reverse" {
				continue
			}
			if slices.Contains(pfFilterRefused, k) {
				s.writeError(w, r, newError(http.StatusBadRequest, "PortForwardingNotSupportFilterField",
					"Port Forwarding filter %s is not supported.", k))
				return
			}
			if v, ok := m[k]; ok && !matchFilter(k, v, want) {
				match = false
			}
		}
		if match {
			out = append(out, pfFields(m, q["fields"]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"port_forwardings": out})
}

func (s *Server) handlePFShow(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var pf *model.PortForwarding
	err := s.store.Txn(r.Context(), func(tx *store.Tx) error {
		f, err := s.pfFIP(tx, p, r.PathValue("fip"))
		if err != nil {
			return err
		}
		if pf = findPF(f, r.PathValue("id")); pf == nil {
			return pfNotFound(r.PathValue("id"))
		}
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := pfMap(*pf)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"port_forwarding": pfFields(m, r.URL.Query()["fields"])})
}

func (s *Server) handlePFCreate(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	a, err := pfBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	want, err := parsePF(a, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	want.ID = newID()
	ctx := r.Context()
	var out model.PortForwarding
	err = s.store.Txn(ctx, func(tx *store.Tx) error {
		f, err := s.pfFIP(tx, p, r.PathValue("fip"))
		if err != nil {
			return err
		}
		pf := *want
		if f.PortID != "" {
			return Conflict("FloatingIPPortAlreadyAssociated",
				"Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.",
				f.FloatingIPAddress, f.ID, pf.InternalPortID, pf.InternalIPAddress, f.FloatingNetworkID)
		}
		if err := s.checkPF(ctx, tx, p, f, &pf); err != nil {
			return err
		}
		f.forwardings = append(slices.Clone(f.forwardings), pf)
		f.showForwardings()
		touch(f)
		out = pf
		return saveFIP(tx, f)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := pfMap(out)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"port_forwarding": m})
}

func (s *Server) handlePFUpdate(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	a, err := pfBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	var out model.PortForwarding
	err = s.store.Txn(ctx, func(tx *store.Tx) error {
		f, err := s.pfFIP(tx, p, r.PathValue("fip"))
		if err != nil {
			return err
		}
		cur := findPF(f, r.PathValue("id"))
		if cur == nil {
			return pfNotFound(r.PathValue("id"))
		}
		pf, err := parsePF(a, cur)
		if err != nil {
			return err
		}
		if a.has("internal_port_id") && !a.has("internal_ip_address") && pf.InternalPortID != cur.InternalPortID {
			pf.InternalIPAddress = "" // the new port's first IPv4 address
		}
		if err := s.checkPF(ctx, tx, p, f, pf); err != nil {
			return err
		}
		f.forwardings = slices.Clone(f.forwardings)
		for i := range f.forwardings {
			if f.forwardings[i].ID == pf.ID {
				f.forwardings[i] = *pf
			}
		}
		f.showForwardings()
		touch(f)
		out = *pf
		return saveFIP(tx, f)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := pfMap(out)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"port_forwarding": m})
}

func (s *Server) handlePFDelete(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	err := s.store.Txn(r.Context(), func(tx *store.Tx) error {
		f, err := s.pfFIP(tx, p, r.PathValue("fip"))
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		if findPF(f, id) == nil {
			return pfNotFound(id)
		}
		f.dropForwardings(func(pf *model.PortForwarding) bool { return pf.ID == id })
		touch(f)
		return saveFIP(tx, f)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// dropForwardings removes the forwardings drop selects; with the last
// one goes the floating IP's router, as in Neutron.
func (f *fipObj) dropForwardings(drop func(*model.PortForwarding) bool) {
	var keep []model.PortForwarding
	for i := range f.forwardings {
		if !drop(&f.forwardings[i]) {
			keep = append(keep, f.forwardings[i])
		}
	}
	f.forwardings = keep
	if len(keep) == 0 && f.PortID == "" {
		f.RouterID, f.Status = "", model.StatusDown
	}
	f.showForwardings()
}

func findPF(f *fipObj, id string) *model.PortForwarding {
	for i := range f.forwardings {
		if f.forwardings[i].ID == id {
			pf := f.forwardings[i]
			return &pf
		}
	}
	return nil
}

// pfMap is a forwarding as the API shows it: a range's single ports are
// null.
func pfMap(pf model.PortForwarding) (map[string]any, error) {
	b, err := json.Marshal(pf)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, k := range []string{"external_port", "internal_port"} {
		if m[k] == 0.0 {
			m[k] = nil
		}
	}
	return m, nil
}

// pfFields applies ?fields= to a forwarding.
func pfFields(m map[string]any, fields []string) map[string]any {
	if len(fields) == 0 {
		return m
	}
	out := map[string]any{}
	for _, f := range fields {
		for _, k := range strings.Split(f, ",") {
			if v, ok := m[k]; ok {
				out[k] = v
			}
		}
	}
	return out
}

func pfBody(r *http.Request) (attrs, error) {
	items, bulk, err := decodeBody(r, "port_forwarding", "")
	if err != nil {
		return nil, err
	}
	if bulk || len(items) != 1 {
		return nil, BadRequest("Bulk operation is not supported for port forwardings")
	}
	return items[0], nil
}

// parsePF validates a request's attributes over cur (nil: a create, whose
// required attributes must all be given) and returns the result.
func parsePF(a attrs, cur *model.PortForwarding) (*model.PortForwarding, error) {
	allowed := []string{"protocol", "external_port", "internal_port", "external_port_range", "internal_port_range",
		"internal_ip_address", "internal_port_id", "description"}
	if err := a.only(allowed...); err != nil {
		return nil, err
	}
	pf := &model.PortForwarding{}
	if cur != nil {
		*pf = *cur
	} else {
		for _, k := range []string{"protocol", "internal_port_id"} {
			if !a.has(k) {
				return nil, BadRequest("Failed to parse request. Required attribute '%s' not specified", k)
			}
		}
		for _, k := range []string{"external_port", "internal_port"} {
			if !a.has(k) && !a.has(k+"_range") {
				return nil, pfBadRequest("%s or %s_range must be given", k, k)
			}
		}
	}
	if v, ok, err := a.str("protocol"); err != nil {
		return nil, err
	} else if ok {
		v = strings.ToLower(v)
		if _, known := model.ProtocolNumber(v); v == "" || !known {
			return nil, badAttr("protocol", "'%s' is not in %v", v, model.ProtocolNames())
		}
		if !slices.Contains(model.PortForwardingProtocols, v) {
			return nil, pfBadRequest("port forwardings of protocol %s are not served: only %s are", v, strings.Join(model.PortForwardingProtocols, " and "))
		}
		pf.Protocol = v
	}
	for _, k := range []string{"external_port", "internal_port"} {
		if a.has(k) && !a.isNull(k) && a.has(k+"_range") && !a.isNull(k+"_range") {
			return nil, pfBadRequest("%s and %s_range cannot be given together", k, k)
		}
		lo, hi, given := 0, 0, false
		if a.has(k) && !a.isNull(k) {
			n, _, err := a.integer(k)
			if err != nil {
				return nil, badAttr(k, "%s", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "400 InvalidInput: Invalid input for operation: "), "."))
			}
			if n < 1 || n > 65535 {
				return nil, badAttr(k, "Invalid port '%d', the port must be an integer between 1 and 65535", n)
			}
			lo, hi, given = n, n, true
		}
		if r, ok, err := a.str(k + "_range"); err != nil {
			return nil, err
		} else if ok && r != "" {
			var valid bool
			if lo, hi, valid = model.ParsePortRange(r); !valid {
				return nil, badAttr(k+"_range", "Invalid port range '%s': want min:max, each between 1 and 65535, min not above max", r)
			}
			given = true
		}
		if !given {
			continue
		}
		single := 0
		if lo == hi {
			single = lo
		}
		if k == "external_port" {
			pf.ExternalPort, pf.ExternalPortRange = single, model.FormatPortRange(lo, hi)
		} else {
			pf.InternalPort, pf.InternalPortRange = single, model.FormatPortRange(lo, hi)
		}
	}
	elo, ehi := pf.ExternalRange()
	ilo, ihi := pf.InternalRange()
	if ihi > ilo && ihi-ilo != ehi-elo {
		return nil, pfBadRequest("Invalid ranges of internal and/or external ports. The relation between internal and external ports must be N-N or 1-N")
	}
	if ihi > ilo && ilo != elo {
		return nil, pfBadRequest("a range of external ports %d:%d forwarded to other internal ports %d:%d is not served: "+
			"forward a range to the same ports (N-N) or to one port (1-N)", elo, ehi, ilo, ihi)
	}
	if v, ok, err := a.str("internal_port_id"); err != nil {
		return nil, err
	} else if ok {
		if !isUUID(v) {
			return nil, badAttr("internal_port_id", "'%s' is not a valid UUID", v)
		}
		pf.InternalPortID = v
	}
	if v, ok, err := a.str("internal_ip_address"); err != nil {
		return nil, err
	} else if ok {
		if ip, err := netip.ParseAddr(v); err != nil || !ip.Is4() {
			return nil, badAttr("internal_ip_address", "'%s' is not a valid IPv4 address", v)
		}
		pf.InternalIPAddress = v
	}
	if v, ok, err := a.str("description"); err != nil {
		return nil, err
	} else if ok {
		if len(v) > 255 {
			return nil, badAttr("description", "'%s' exceeds maximum length of 255", v)
		}
		pf.Description = v
	}
	return pf, nil
}

// checkPF validates pf (new or changed) against the store inside tx, as
// Neutron's pf_plugin does, and fills its internal address when omitted.
// On success it sets f's router.
func (s *Server) checkPF(ctx context.Context, tx *store.Tx, p auth.Principal, f *fipObj, pf *model.PortForwarding) error {
	port, err := l3Port(tx, pf.InternalPortID)
	if err != nil {
		return err
	}
	if port == nil || !owns(p, port) {
		return NotFound("Port", pf.InternalPortID)
	}
	var v4 []model.FixedIP
	for _, ip := range port.FixedIPs {
		if a, err := netip.ParseAddr(ip.IPAddress); err == nil && a.Is4() {
			v4 = append(v4, ip)
		}
	}
	if len(v4) == 0 {
		return pfBadRequest("Requested internal port %s must allocate an IPv4 address at least", port.ID)
	}
	subnetID := ""
	if pf.InternalIPAddress == "" {
		pf.InternalIPAddress, subnetID = v4[0].IPAddress, v4[0].SubnetID
	} else {
		for _, ip := range v4 {
			if ip.IPAddress == pf.InternalIPAddress {
				subnetID = ip.SubnetID
			}
		}
		if subnetID == "" {
			addrs := make([]string, len(v4))
			for i, ip := range v4 {
				addrs[i] = ip.IPAddress
			}
			return pfBadRequest("Requested internal IP address %s is not suitable for internal neutron port %s, as its fixed_ips are %s",
				pf.InternalIPAddress, port.ID, strings.Join(addrs, ", "))
		}
	}
	// A port with a floating IP cannot also be forwarded to.
	held, err := s.fipOfPort(ctx, tx, port.ID)
	if err != nil {
		return err
	}
	if held != nil {
		return Conflict("PortHasBindingFloatingIP",
			"Cannot create port forwarding to floating IP %s (%s) with port %s using fixed IP %s, as that port already has a binding floating IP.",
			f.FloatingIPAddress, f.ID, port.ID, pf.InternalIPAddress)
	}
	if err := refuseEdge(tx, port); err != nil {
		return err
	}
	sub, err := l3Subnet(tx, subnetID)
	if err != nil {
		return err
	}
	if sub == nil {
		return NotFound("Subnet", subnetID)
	}
	routerID, err := s.routerForFIP(ctx, tx, port, sub, f.FloatingNetworkID)
	var e *Error
	if errors.As(err, &e) && e.Type == "ExternalGatewayForFloatingIPNotFound" {
		return pfBadRequest("External network %s is not reachable from subnet %s. Cannot set Port forwarding for port %s with Floating IP %s",
			f.FloatingNetworkID, sub.ID, port.ID, f.ID)
	}
	if err != nil {
		return err
	}
	others := slices.DeleteFunc(slices.Clone(f.forwardings), func(o model.PortForwarding) bool { return o.ID == pf.ID })
	if f.RouterID != "" && f.RouterID != routerID && len(others) > 0 {
		return pfBadRequest("The Floating IP %s had been set on router %s, the internal Neutron port %s can not reach it",
			f.ID, f.RouterID, port.ID)
	}
	overlap := func(alo, ahi, blo, bhi int) bool { return max(alo, blo) <= min(ahi, bhi) }
	for _, o := range others {
		olo, ohi := o.ExternalRange()
		lo, hi := pf.ExternalRange()
		if o.Protocol == pf.Protocol && overlap(olo, ohi, lo, hi) {
			return pfBadRequest("There is a port collision with the external_port_range. The following ranges collides: %d:%d and %d:%d",
				olo, ohi, lo, hi)
		}
	}
	// The internal socket is unique across every floating IP.
	recs, err := fipsWithForwardingsTo(tx, port.ID)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.ID != f.ID {
			others = append(others, rec.PortForwardings...)
		}
	}
	for _, o := range others {
		olo, ohi := o.InternalRange()
		lo, hi := pf.InternalRange()
		if o.InternalPortID == port.ID && o.Protocol == pf.Protocol && o.InternalIPAddress == pf.InternalIPAddress && overlap(olo, ohi, lo, hi) {
			return pfBadRequest("There is a port collision with the internal_port_range. The following ranges collides: %d:%d and %d:%d",
				olo, ohi, lo, hi)
		}
	}
	f.RouterID = routerID
	return nil
}

// refuseEdge refuses a forwarding to a port bound on a chassis in edge
// mode: its floating IPs are the stateless edge's, which cannot forward
// ports (it keeps no connection state to give the replies their port).
func refuseEdge(tx *store.Tx, port *model.Port) error {
	// The chassis the port is bound on: its binding's, over the record's.
	host := port.HostID
	var b model.PortBinding
	if ok, err := tx.Get(store.BindingMirrorKey(port.NetworkID, port.ID), &b); err != nil {
		return err
	} else if ok && b.Chassis != "" {
		host = b.Chassis
	}
	if host == "" {
		return nil
	}
	var ch model.Chassis
	ok, err := tx.Get(store.ChassisKey(host), &ch)
	if err != nil {
		return err
	}
	if ok && ch.FIPMode == model.FIPModeEdge {
		return pfBadRequest("Port %s is bound on chassis %s, whose floating IPs the stateless edge gateway serves (fip_mode edge): it cannot forward ports. Use a port on a chassis in distributed mode",
			port.ID, host)
	}
	return nil
}

// fipOfPort returns the floating IP associated with port portID, read
// inside tx through the port's floating IP index, or nil.
func (s *Server) fipOfPort(ctx context.Context, tx *store.Tx, portID string) (*fipRecord, error) {
	recs, err := fipsOnPort(tx, portID)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if recs[i].PortID == portID {
			return &recs[i], nil
		}
	}
	return nil, nil
}

// refusePortWithForwardings is Neutron's PortHasPortForwarding: a floating
// IP cannot be associated with a port that is the target of port
// forwardings (every Wyvern router is distributed). It reads the port's
// forwardings index inside tx, so a forwarding created meanwhile makes
// the association retry.
func refusePortWithForwardings(tx *store.Tx, portID string) error {
	ids, err := indexIDs(tx, pfPortKey(portID))
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return newError(http.StatusBadRequest, "PortHasPortForwarding",
			"Cannot associate floating IP to port %s because it already has a Port Forwarding binding.", portID)
	}
	return nil
}

// pfPortKey indexes the floating IPs with forwardings to a port: its value
// is the JSON list of their ids (sorted), absent when there is none.
// saveFIP keeps it in the transaction that changes the forwardings, so
// what needs the forwardings to a port reads one key, not every floating
// IP, and conflicts with a concurrent change to them.
func pfPortKey(portID string) string { return store.IndexKey("port_forwarding_fips", portID) }

// forwardedPorts returns the internal ports of forwardings, sorted, each
// once.
func forwardedPorts(pfs []model.PortForwarding) []string {
	var out []string
	for _, pf := range pfs {
		out = append(out, pf.InternalPortID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// syncPFIndex updates the pfPortKey index of the ports that f's
// forwardings start or stop targeting, inside tx.
func syncPFIndex(tx *store.Tx, f *fipObj) error {
	now := forwardedPorts(f.forwardings)
	if slices.Equal(now, f.pfPorts) {
		return nil
	}
	var added, removed, keys []string
	for _, p := range now {
		if !slices.Contains(f.pfPorts, p) {
			added = append(added, p)
			keys = append(keys, pfPortKey(p))
		}
	}
	for _, p := range f.pfPorts {
		if !slices.Contains(now, p) {
			removed = append(removed, p)
			keys = append(keys, pfPortKey(p))
		}
	}
	tx.Prefetch(keys...)
	for _, p := range added {
		if err := indexAdd(tx, pfPortKey(p), f.ID); err != nil {
			return err
		}
	}
	for _, p := range removed {
		if err := indexRemove(tx, pfPortKey(p), f.ID); err != nil {
			return err
		}
	}
	f.pfPorts = now
	return nil
}

// MigrateFloatingIPIndexes writes the index entries (pfPortKey,
// fipPortKey) of the floating IPs stored by a server that predates the
// indexes, one transaction per floating IP, and returns how many floating
// IPs it indexed. Run at start; once done, it costs three listings.
func (s *Server) MigrateFloatingIPIndexes(ctx context.Context) (int, error) {
	recs, _, err := store.ListOf[fipRecord](ctx, s.store, store.KindPrefix(store.KindFloatingIPs))
	if err != nil {
		return 0, fmt.Errorf("index floating IPs: %w", err)
	}
	// The entries there are, read once: only a floating IP missing one
	// costs a transaction, so a start with everything indexed is three
	// listings.
	indexed := map[string]bool{} // index key + "\x00" + floating IP id
	for _, prefix := range []string{pfPortKey(""), fipPortKey("")} {
		kvs, _, err := s.store.List(ctx, prefix)
		if err != nil {
			return 0, fmt.Errorf("index floating IPs: %w", err)
		}
		for _, kv := range kvs {
			var ids []string
			_ = json.Unmarshal(kv.Value, &ids)
			for _, id := range ids {
				indexed[kv.Key+"\x00"+id] = true
			}
		}
	}
	done := 0
	for _, rec := range recs {
		missing := rec.PortID != "" && !indexed[fipPortKey(rec.PortID)+"\x00"+rec.ID]
		for _, p := range forwardedPorts(rec.PortForwardings) {
			missing = missing || !indexed[pfPortKey(p)+"\x00"+rec.ID]
		}
		if !missing {
			continue
		}
		wrote := false
		err := s.store.Txn(ctx, func(tx *store.Tx) error {
			wrote = false
			var cur fipRecord
			if ok, err := tx.Get(fipKey(rec.ID), &cur); err != nil || !ok {
				return err
			}
			var keys []string
			for _, p := range forwardedPorts(cur.PortForwardings) {
				keys = append(keys, pfPortKey(p))
			}
			if cur.PortID != "" {
				keys = append(keys, fipPortKey(cur.PortID))
			}
			tx.Prefetch(keys...)
			for _, k := range keys {
				ids, err := indexIDs(tx, k)
				if err != nil {
					return err
				}
				if !slices.Contains(ids, cur.ID) {
					wrote = true
					if err := indexAdd(tx, k, cur.ID); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("index floating IP %s: %w", rec.ID, err)
		}
		if wrote {
			done++
		}
	}
	return done, nil
}

// dropPortForwardings deletes inside tx the forwardings to port portID
// (the port is being deleted), as Neutron's pf_plugin does.
func (s *Server) dropPortForwardings(ctx context.Context, tx *store.Tx, portID string) error {
	return s.dropForwardingsTo(ctx, tx, portID, func(*model.PortForwarding) bool { return true })
}

// dropStalePortForwardings deletes inside tx the forwardings to an
// address port no longer holds (its fixed_ips were updated), as Neutron's
// pf_plugin does.
func (s *Server) dropStalePortForwardings(ctx context.Context, tx *store.Tx, port *model.Port) error {
	return s.dropForwardingsTo(ctx, tx, port.ID, func(o *model.PortForwarding) bool {
		return !slices.ContainsFunc(port.FixedIPs, func(f model.FixedIP) bool { return f.IPAddress == o.InternalIPAddress })
	})
}

// dropForwardingsTo deletes inside tx the forwardings to port portID that
// stale selects.
func (s *Server) dropForwardingsTo(ctx context.Context, tx *store.Tx, portID string, stale func(*model.PortForwarding) bool) error {
	recs, err := fipsWithForwardingsTo(tx, portID)
	if err != nil {
		return err
	}
	to := func(o *model.PortForwarding) bool { return o.InternalPortID == portID && stale(o) }
	for _, rec := range recs {
		if !slices.ContainsFunc(rec.PortForwardings, func(o model.PortForwarding) bool { return to(&o) }) {
			continue
		}
		f := fipFromRecord(&rec)
		f.dropForwardings(to)
		touch(f)
		if err := saveFIP(tx, f); err != nil {
			return fmt.Errorf("drop port forwardings of port %s: %w", portID, err)
		}
	}
	return nil
}

// fipsWithForwardingsTo reads inside tx, in one round trip, the floating
// IPs with forwardings to port portID.
func fipsWithForwardingsTo(tx *store.Tx, portID string) ([]fipRecord, error) {
	return fipRecordsIndexed(tx, pfPortKey(portID))
}
