package neutron

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/ipam"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Limits on a port's lists (Neutron's max_allowed_address_pair is 10).
const (
	maxFixedIPs     = 32
	maxAddressPairs = 10
	maxDHCPOpts     = 64
)

// vnicTypes are the binding:vnic_type values Neutron accepts.
var vnicTypes = []string{"normal", "direct", "macvtap", "baremetal", "direct-physical",
	"virtio-forwarder", "smart-nic", "vdpa", "remote-managed"}

// portObj is a port as the API serves it: the stored model plus the
// project owning its network, whose members may see it (Neutron's get_port
// policy lets a network's owner see every port on it).
type portObj struct {
	model.Port
	netOwner string
	// binding is the port's binding as its chassis wrote it (the mirror
	// of store.BindingMirrorKey): what it reports as binding:host_id,
	// status and binding:vif_type over the stored record. The record is
	// what the API writes.
	binding *model.PortBinding
}

func portsResource(s *Server) *resource {
	return &resource{
		collection: "ports", singular: "port", kind: "Port",
		list: func(ctx context.Context) ([]model.Object, error) {
			nets, _, err := store.ListOf[model.Network](ctx, s.store, store.KindPrefix(store.KindNetworks))
			if err != nil {
				return nil, err
			}
			owner := make(map[string]string, len(nets))
			for _, n := range nets {
				owner[n.ID] = n.ProjectID
			}
			ports, _, err := store.ListOf[model.Port](ctx, s.store, store.KindPrefix(store.KindPorts))
			if err != nil {
				return nil, err
			}
			bindings, err := s.listBindings(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]model.Object, len(ports))
			for i := range ports {
				out[i] = &portObj{Port: ports[i], netOwner: owner[ports[i].NetworkID], binding: bindings[ports[i].ID]}
			}
			return out, nil
		},
		load: func(tx *store.Tx, id string) (model.Object, error) {
			return orNil(loadPortObj(tx, id))
		},
		page: s.portPage,
		save: func(tx *store.Tx, o model.Object) error {
			port := &o.(*portObj).Port
			return tx.Put(store.PortKey(port.NetworkID, port.ID), port)
		},
		visible: func(p auth.Principal, o model.Object) bool {
			owner := o.(*portObj).netOwner
			return owner != "" && owner == p.ProjectID
		},
		create: s.createPort,
		update: s.updatePort,
		remove: s.removePort,
	}
}

// loadPortObj reads a port and its network's owner inside tx (one round
// trip for both after the index); nil, nil when the port does not exist.
func loadPortObj(tx *store.Tx, id string) (*portObj, error) {
	netID := tx.GetString(store.IndexKey(store.KindPorts, id))
	if netID == "" {
		return nil, nil
	}
	tx.Prefetch(store.PortKey(netID, id), store.NetworkKey(netID), store.BindingMirrorKey(netID, id))
	var o portObj
	ok, err := tx.Get(store.PortKey(netID, id), &o.Port)
	if err != nil || !ok {
		return nil, err
	}
	var b model.PortBinding
	if ok, err := tx.Get(store.BindingMirrorKey(netID, id), &b); err != nil {
		return nil, err
	} else if ok {
		o.binding = &b
	}
	n, err := loadNetwork(tx, netID)
	if err != nil {
		return nil, err
	}
	if n != nil {
		o.netOwner = n.ProjectID
	}
	return &o, nil
}

// portReq is a port create request, from a client's body or a portSpec.
type portReq struct {
	networkID    string
	name, desc   string
	adminUp      bool
	mac          string // "" allocates one
	fixed        []fixedIPReq
	fixedGiven   bool
	deviceOwner  string
	deviceID     string
	sgs          []string
	sgsGiven     bool
	portSecurity *bool
	pairs        []model.AddressPair // MACs not yet defaulted
	pairsGiven   bool
	dhcpOpts     []dhcpOptReq
	hostID       string
	vnicType     string
	profile      map[string]any
	// server marks ports made by the server itself: no policy checks.
	server bool
}

var portAttrs = []string{"name", "description", "project_id", "tenant_id", "network_id", "admin_state_up",
	"mac_address", "fixed_ips", "device_owner", "device_id", "security_groups", "port_security_enabled",
	"allowed_address_pairs", "extra_dhcp_opts", "binding:host_id", "binding:vnic_type", "binding:profile",
	"dns_name", "dns_domain", "qos_policy_id", "trusted"}

var portUpdatable = []string{"name", "description", "admin_state_up", "mac_address", "fixed_ips",
	"device_owner", "device_id", "security_groups", "port_security_enabled", "allowed_address_pairs",
	"extra_dhcp_opts", "binding:host_id", "binding:vnic_type", "binding:profile", "dns_name", "dns_domain",
	"qos_policy_id", "trusted"}

var portReadOnly = []string{"network_id", "status", "binding:vif_type", "binding:vif_details"}

// checkIgnored accepts the attributes Wyvern takes but does not implement
// only with their empty values.
func checkIgnored(a attrs) error {
	for _, k := range []string{"dns_name", "dns_domain"} {
		if v, _, err := a.str(k); err != nil {
			return err
		} else if v != "" {
			return BadRequest("Attribute %s is not supported", k)
		}
	}
	return nil
}

func (s *Server) createPort(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only(portAttrs...); err != nil {
		return nil, err
	}
	if err := checkIgnored(a); err != nil {
		return nil, err
	}
	req := portReq{adminUp: true, vnicType: "normal"}
	var err error
	var ok bool
	if req.networkID, ok, err = a.str("network_id"); err != nil {
		return nil, err
	} else if !ok || req.networkID == "" {
		return nil, BadRequest("Failed to parse request. Required attribute 'network_id' not specified")
	}
	if err := a.common(&req.name, &req.desc); err != nil {
		return nil, err
	}
	if v, ok, err := a.boolean("admin_state_up"); err != nil {
		return nil, err
	} else if ok {
		req.adminUp = v
	}
	if m, ok, err := a.str("mac_address"); err != nil {
		return nil, err
	} else if ok && m != "" {
		if req.mac, err = ipam.ParseMAC(m); err != nil {
			return nil, badAttr("mac_address", "%s", err.Error())
		}
	}
	if req.fixed, req.fixedGiven, err = parseFixedIPs(a); err != nil {
		return nil, err
	}
	if req.deviceOwner, _, err = a.str("device_owner"); err != nil {
		return nil, err
	}
	if req.deviceID, _, err = a.str("device_id"); err != nil {
		return nil, err
	}
	if req.sgs, req.sgsGiven, err = parseSecurityGroups(a); err != nil {
		return nil, err
	}
	if v, ok, err := a.boolean("port_security_enabled"); err != nil {
		return nil, err
	} else if ok {
		req.portSecurity = &v
	}
	if req.pairs, req.pairsGiven, err = parseAddressPairs(a); err != nil {
		return nil, err
	}
	if req.dhcpOpts, _, err = parseDHCPOpts(a, false); err != nil {
		return nil, err
	}
	if err := parseBinding(a, p, &req.hostID, &req.vnicType, &req.profile, "create_port"); err != nil {
		return nil, err
	}
	if err := parseTrusted(a, p, &req.profile, "create_port"); err != nil {
		return nil, err
	}
	port, err := s.buildPort(ctx, tx, p, std, req)
	if err != nil {
		return nil, err
	}
	if given, err := s.attachQoS(tx, p, a, "port", port.ID, &port.QoSPolicyID); err != nil {
		return nil, err
	} else if given {
		if err := tx.Put(store.PortKey(port.NetworkID, port.ID), port); err != nil {
			return nil, err
		}
	}
	return &portObj{Port: *port}, nil
}

// buildPort validates a create request against the network and writes the
// port with its MAC, address and index keys.
func (s *Server) buildPort(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, req portReq) (*model.Port, error) {
	n, err := loadNetwork(tx, req.networkID)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, NotFound("Network", req.networkID)
	}
	if err := refuseProviderPort(n, req.deviceOwner); err != nil {
		return nil, err
	}
	netOwner := p.Admin || n.ProjectID == p.ProjectID
	if !req.server {
		if !netOwner && !n.Shared {
			if n.External {
				return nil, Forbidden("(rule:create_port) is disallowed by policy")
			}
			return nil, NotFound("Network", req.networkID)
		}
		if !netOwner {
			if req.mac != "" {
				return nil, Forbidden("(rule:create_port:mac_address) is disallowed by policy")
			}
			for _, f := range req.fixed {
				if f.IP.IsValid() {
					return nil, Forbidden("(rule:create_port:fixed_ips:ip_address) is disallowed by policy")
				}
			}
			if strings.HasPrefix(req.deviceOwner, "network:") {
				return nil, Forbidden("(rule:create_port:device_owner) is disallowed by policy")
			}
			// Neutron lets only the network's owner set address pairs: on
			// a shared network they would claim the owner's addresses.
			if len(req.pairs) > 0 {
				return nil, Forbidden("(rule:create_port:allowed_address_pairs) is disallowed by policy")
			}
		}
	}
	port := &model.Port{
		Standard: std, NetworkID: n.ID, AdminStateUp: req.adminUp, DeviceOwner: req.deviceOwner,
		DeviceID: req.deviceID, Status: model.StatusDown, SecurityGroups: []string{},
		AllowedAddressPairs: []model.AddressPair{}, ExtraDHCPOpts: []model.ExtraDHCPOpt{},
		VNICType: req.vnicType, Profile: req.profile,
	}
	port.Name, port.Description = req.name, req.desc
	if port.Profile == nil {
		port.Profile = map[string]any{}
	}
	setBinding(port, req.hostID)
	port.PortSecurityEnabled = n.PortSecurity
	if req.portSecurity != nil {
		port.PortSecurityEnabled = *req.portSecurity
	}
	// Read what the create will need in one round trip: the MAC, the
	// subnets and the project's default security group.
	macCand := req.mac
	if macCand == "" {
		macCand, _ = drawnMAC(ctx) // a bulk's, read already
	}
	if macCand == "" {
		if macCand, err = s.randomMAC(); err != nil {
			return nil, err
		}
	}
	keys := []string{store.MACKey(macCand)}
	allSubnets := !req.fixedGiven
	for _, f := range req.fixed {
		if f.SubnetID != "" {
			keys = append(keys, store.SubnetKey(n.ID, f.SubnetID))
		} else {
			allSubnets = true
		}
	}
	if allSubnets {
		for _, sid := range n.Subnets {
			keys = append(keys, store.SubnetKey(n.ID, sid))
		}
	}
	if !req.sgsGiven && port.PortSecurityEnabled && !trustedOwner(port.DeviceOwner) {
		keys = append(keys, defaultSGKey(port.ProjectID))
	}
	tx.Prefetch(keys...)
	if port.MACAddress, err = s.allocateMAC(tx, n.ID, port.ID, req.mac, macCand); err != nil {
		return nil, err
	}
	al := newAllocator(ctx, s, tx, n, port.ID, port.MACAddress, port.DeviceOwner)
	if port.FixedIPs, err = al.request(req.fixed, req.fixedGiven); err != nil {
		return nil, err
	}
	if err := s.portSecurity(ctx, tx, p, port, req.sgs, req.sgsGiven, req.pairs, req.pairsGiven, true); err != nil {
		return nil, err
	}
	port.ExtraDHCPOpts = mergeDHCPOpts(nil, req.dhcpOpts)
	if err := tx.Put(store.PortKey(n.ID, port.ID), port); err != nil {
		return nil, err
	}
	tx.PutString(store.IndexKey(store.KindPorts, port.ID), n.ID)
	return port, nil
}

// setBinding sets the binding attributes that follow from the host.
func setBinding(port *model.Port, host string) {
	port.HostID = host
	if host == "" {
		port.VIFType = "unbound"
		port.VIFDetails = map[string]any{}
		return
	}
	port.VIFType = "ovs"
	port.VIFDetails = map[string]any{"port_filter": true, "connectivity": "l2"}
}

// trustedOwner reports Neutron's "trusted" device owners (network:*): no
// default security group.
func trustedOwner(owner string) bool { return strings.HasPrefix(owner, "network:") }

// portSecurity applies security groups and allowed address pairs to port
// (create: creating is true) after port_security_enabled has been set.
func (s *Server) portSecurity(ctx context.Context, tx *store.Tx, p auth.Principal, port *model.Port,
	sgs []string, sgsGiven bool, pairs []model.AddressPair, pairsGiven, creating bool) error {
	if sgsGiven {
		if len(sgs) > 0 && !port.PortSecurityEnabled {
			return newError(http.StatusBadRequest, "PortSecurityAndIPRequiredForSecurityGroups",
				"Port security must be enabled and port must have an IP address in order to use security groups.")
		}
		for _, id := range sgs {
			var g model.SecurityGroup
			// Reading the group joins it to the transaction: a group
			// deleted meanwhile makes this create retry and fail.
			ok, err := tx.Get(store.ObjectKey(store.KindSecGroups, id), &g)
			if err != nil {
				return err
			}
			if !ok || !(p.Admin || g.ProjectID == port.ProjectID) {
				return newError(http.StatusNotFound, "SecurityGroupNotFound", "Security group %s does not exist", id)
			}
		}
		port.SecurityGroups = nonNil(sgs)
	} else if creating && port.PortSecurityEnabled && !trustedOwner(port.DeviceOwner) {
		id, err := s.ensureDefaultSecurityGroup(ctx, tx, port.ProjectID)
		if err != nil {
			return err
		}
		port.SecurityGroups = []string{id}
	}
	if !port.PortSecurityEnabled && len(port.SecurityGroups) > 0 {
		return Conflict("PortSecurityPortHasSecurityGroup",
			"Port has security group associated. Cannot disable port security or IP address until security group is removed.")
	}
	if pairsGiven {
		out := make([]model.AddressPair, 0, len(pairs))
		seen := map[model.AddressPair]bool{}
		for _, ap := range pairs {
			if ap.MACAddress == "" {
				ap.MACAddress = port.MACAddress
			}
			if seen[ap] {
				return newError(http.StatusBadRequest, "DuplicateAddressPairInRequest",
					"Request contains duplicate address pair: mac_address %s ip_address %s.", ap.MACAddress, ap.IPAddress)
			}
			seen[ap] = true
			out = append(out, ap)
		}
		port.AllowedAddressPairs = out
	}
	if !port.PortSecurityEnabled && len(port.AllowedAddressPairs) > 0 {
		return Conflict("AddressPairAndPortSecurityRequired",
			"Port Security must be enabled in order to have allowed address pairs on a port.")
	}
	return nil
}

// parseFixedIPs reads fixed_ips; given is false when absent or null.
func parseFixedIPs(a attrs) ([]fixedIPReq, bool, error) {
	if !a.has("fixed_ips") || a.isNull("fixed_ips") {
		return nil, false, nil
	}
	var raw []map[string]json.RawMessage
	if _, err := a.into("fixed_ips", &raw); err != nil {
		return nil, true, err
	}
	if len(raw) > maxFixedIPs {
		return nil, true, badAttr("fixed_ips", "Exceeded maximum amount of fixed ips per port (%d)", maxFixedIPs)
	}
	out := make([]fixedIPReq, 0, len(raw))
	seen := map[netip.Addr]bool{}
	for _, m := range raw {
		var r fixedIPReq
		for k, v := range m {
			var str string
			if err := json.Unmarshal(v, &str); err != nil && string(v) != "null" {
				return nil, true, badAttr("fixed_ips", "Invalid data format for fixed IP: '%s'", v)
			}
			switch k {
			case "subnet_id":
				r.SubnetID = str
			case "ip_address":
				if str == "" {
					continue
				}
				ip, err := ipam.ParseAddr(str)
				if err != nil {
					return nil, true, badAttr("fixed_ips", "'%s' is not a valid IP address", str)
				}
				if seen[ip] {
					return nil, true, badAttr("fixed_ips", "Duplicate IP address '%s'", str)
				}
				seen[ip] = true
				r.IP = ip
			default:
				return nil, true, badAttr("fixed_ips", "Invalid data format for fixed IP: unrecognized key '%s'", k)
			}
		}
		if r.SubnetID == "" && !r.IP.IsValid() {
			return nil, true, InvalidInput("IP allocation requires subnet_id or ip_address")
		}
		out = append(out, r)
	}
	return out, true, nil
}

// parseSecurityGroups reads security_groups (null means none). Neutron
// validates the list as type:uuid_list: each a UUID, none twice.
func parseSecurityGroups(a attrs) ([]string, bool, error) {
	l, ok, err := a.strList("security_groups")
	if err != nil || !ok {
		return nil, ok, err
	}
	seen := map[string]bool{}
	for _, id := range l {
		if !isUUID(id) {
			return nil, true, badAttr("security_groups", "'%s' is not a valid UUID", id)
		}
		seen[id] = true
	}
	if len(seen) != len(l) {
		return nil, true, badAttr("security_groups", "Duplicate items in the list: '%s'", strings.Join(l, ", "))
	}
	return l, true, nil
}

// parseAddressPairs reads allowed_address_pairs (null means none).
func parseAddressPairs(a attrs) ([]model.AddressPair, bool, error) {
	if !a.has("allowed_address_pairs") {
		return nil, false, nil
	}
	var raw []map[string]json.RawMessage
	if !a.isNull("allowed_address_pairs") {
		if _, err := a.into("allowed_address_pairs", &raw); err != nil {
			return nil, true, err
		}
	}
	if len(raw) > maxAddressPairs {
		return nil, true, newError(http.StatusBadRequest, "AllowedAddressPairExhausted",
			"The number of allowed address pair exceeds the maximum %d.", maxAddressPairs)
	}
	out := make([]model.AddressPair, 0, len(raw))
	for _, m := range raw {
		var ap model.AddressPair
		for k, v := range m {
			var str string
			if string(v) != "null" && json.Unmarshal(v, &str) != nil {
				return nil, true, badAttr("allowed_address_pairs", "'%s' is not a valid string", v)
			}
			switch k {
			case "ip_address":
				ap.IPAddress = str
			case "mac_address":
				ap.MACAddress = str
			default:
				return nil, true, BadRequest("Unrecognized attribute(s) '%s'", k)
			}
		}
		if ap.IPAddress == "" {
			return nil, true, newError(http.StatusBadRequest, "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address")
		}
		if ip, err := ipam.ParseAddr(ap.IPAddress); err == nil {
			ap.IPAddress = ip.String()
		} else if pfx, err := netip.ParsePrefix(ap.IPAddress); err == nil && pfx.Addr().Zone() == "" {
			ap.IPAddress = pfx.String()
		} else {
			return nil, true, badAttr("allowed_address_pairs", "'%s' is neither a valid IP address, nor is it a valid IP subnet", ap.IPAddress)
		}
		if ap.MACAddress != "" {
			mac, err := ipam.ParseMAC(ap.MACAddress)
			if err != nil {
				return nil, true, badAttr("allowed_address_pairs", "%s", err.Error())
			}
			ap.MACAddress = mac
		}
		out = append(out, ap)
	}
	return out, true, nil
}

// dhcpOptReq is one extra_dhcp_opts entry; a nil value deletes the option
// on update.
type dhcpOptReq struct {
	name      string
	value     *string
	ipVersion int
}

// parseDHCPOpts reads extra_dhcp_opts.
func parseDHCPOpts(a attrs, update bool) ([]dhcpOptReq, bool, error) {
	if !a.has("extra_dhcp_opts") || a.isNull("extra_dhcp_opts") {
		return nil, a.has("extra_dhcp_opts"), nil
	}
	var raw []map[string]json.RawMessage
	if _, err := a.into("extra_dhcp_opts", &raw); err != nil {
		return nil, true, err
	}
	if len(raw) > maxDHCPOpts {
		return nil, true, badAttr("extra_dhcp_opts", "too many options (maximum %d)", maxDHCPOpts)
	}
	out := make([]dhcpOptReq, 0, len(raw))
	for _, m := range raw {
		o := dhcpOptReq{ipVersion: 4}
		for k, v := range m {
			switch k {
			case "opt_name":
				if json.Unmarshal(v, &o.name) != nil {
					return nil, true, badAttr("extra_dhcp_opts", "'%s' is not a valid opt_name", v)
				}
			case "opt_value":
				if string(v) == "null" {
					continue
				}
				var val string
				if json.Unmarshal(v, &val) != nil {
					var num json.Number
					if json.Unmarshal(v, &num) != nil {
						return nil, true, badAttr("extra_dhcp_opts", "'%s' is not a valid opt_value", v)
					}
					val = num.String()
				}
				o.value = &val
			case "ip_version":
				var n int
				if json.Unmarshal(v, &n) != nil {
					var str string
					if json.Unmarshal(v, &str) != nil {
						return nil, true, badAttr("extra_dhcp_opts", "'%s' is not a valid ip_version", v)
					}
					var err error
					if n, err = strconv.Atoi(str); err != nil {
						return nil, true, badAttr("extra_dhcp_opts", "'%s' is not a valid ip_version", v)
					}
				}
				if n != 4 && n != 6 {
					return nil, true, badAttr("extra_dhcp_opts", "%d is not in [4, 6]", n)
				}
				o.ipVersion = n
			default:
				return nil, true, badAttr("extra_dhcp_opts", "Validation of dictionary's keys failed. Unexpected key '%s'", k)
			}
		}
		if strings.TrimSpace(o.name) == "" || len(o.name) > 255 {
			return nil, true, badAttr("extra_dhcp_opts", "opt_name must be a non-empty string")
		}
		if o.value == nil && !update {
			continue
		}
		out = append(out, o)
	}
	return out, true, nil
}

// mergeDHCPOpts applies requested options to cur as Neutron's update does:
// an option replaces the one of the same name and IP version, a null value
// deletes it.
func mergeDHCPOpts(cur []model.ExtraDHCPOpt, reqs []dhcpOptReq) []model.ExtraDHCPOpt {
	out := append([]model.ExtraDHCPOpt{}, cur...)
	for _, r := range reqs {
		idx := -1
		for i, o := range out {
			v := o.IPVersion
			if v == 0 {
				v = 4
			}
			if o.OptName == r.name && v == r.ipVersion {
				idx = i
			}
		}
		switch {
		case r.value == nil && idx >= 0:
			out = append(out[:idx], out[idx+1:]...)
		case r.value == nil:
		case idx >= 0:
			out[idx].OptValue = *r.value
		default:
			out = append(out, model.ExtraDHCPOpt{OptName: r.name, OptValue: *r.value, IPVersion: r.ipVersion})
		}
	}
	return out
}

// parseBinding reads the binding attributes; host and profile are admin
// only, as in Neutron's policy.
func parseBinding(a attrs, p auth.Principal, host, vnic *string, profile *map[string]any, rule string) error {
	if v, ok, err := a.str("binding:host_id"); err != nil {
		return err
	} else if ok {
		if !p.Admin {
			return Forbidden("(rule:%s:binding:host_id) is disallowed by policy", rule)
		}
		*host = v
	}
	if v, ok, err := a.str("binding:vnic_type"); err != nil {
		return err
	} else if ok {
		if v == "" {
			v = "normal"
		}
		valid := false
		for _, t := range vnicTypes {
			valid = valid || v == t
		}
		if !valid {
			return badAttr("binding:vnic_type", "'%s' is not in %v", v, vnicTypes)
		}
		*vnic = v
	}
	if a.has("binding:profile") {
		if !p.Admin {
			return Forbidden("(rule:%s:binding:profile) is disallowed by policy", rule)
		}
		m := map[string]any{}
		if !a.isNull("binding:profile") {
			if _, err := a.into("binding:profile", &m); err != nil {
				return err
			}
			if m == nil {
				m = map[string]any{}
			}
		}
		*profile = m
	}
	return nil
}

func (s *Server) updatePort(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	o := cur.(*portObj)
	port := &o.Port
	for _, k := range portReadOnly {
		if a.has(k) {
			return nil, BadRequest("Cannot update read-only attribute %s", k)
		}
	}
	if err := a.only(portUpdatable...); err != nil {
		return nil, err
	}
	if err := checkIgnored(a); err != nil {
		return nil, err
	}
	if err := a.common(&port.Name, &port.Description); err != nil {
		return nil, err
	}
	if v, ok, err := a.boolean("admin_state_up"); err != nil {
		return nil, err
	} else if ok {
		port.AdminStateUp = v
	}
	if v, ok, err := a.str("device_id"); err != nil {
		return nil, err
	} else if ok {
		port.DeviceID = v
	}
	// The network is read only when the change needs it.
	var n *model.Network
	network := func() (*model.Network, error) {
		if n != nil {
			return n, nil
		}
		var err error
		if n, err = loadNetwork(tx, port.NetworkID); err != nil {
			return nil, err
		}
		if n == nil {
			return nil, NotFound("Network", port.NetworkID)
		}
		return n, nil
	}
	if v, ok, err := a.str("device_owner"); err != nil {
		return nil, err
	} else if ok && v != port.DeviceOwner {
		if strings.HasPrefix(v, "network:") && !p.Admin {
			nw, err := network()
			if err != nil {
				return nil, err
			}
			if nw.ProjectID != p.ProjectID {
				return nil, Forbidden("(rule:update_port:device_owner) is disallowed by policy")
			}
		}
		nw, err := network()
		if err != nil {
			return nil, err
		}
		if err := refuseProviderPort(nw, v); err != nil {
			return nil, err
		}
		port.DeviceOwner = v
	}
	host, vnic, profile := port.HostID, port.VNICType, port.Profile
	if err := parseBinding(a, p, &host, &vnic, &profile, "update_port"); err != nil {
		return nil, err
	}
	if err := parseTrusted(a, p, &profile, "update_port"); err != nil {
		return nil, err
	}
	port.VNICType, port.Profile = vnic, profile
	if host != port.HostID {
		setBinding(port, host)
		if host == "" {
			port.Status = model.StatusDown
		}
	}
	oldMAC := port.MACAddress
	if m, ok, err := a.str("mac_address"); err != nil {
		return nil, err
	} else if ok {
		mac, err := ipam.ParseMAC(m)
		if err != nil {
			return nil, badAttr("mac_address", "%s", err.Error())
		}
		if mac != port.MACAddress {
			if !p.Admin {
				return nil, Forbidden("(rule:update_port:mac_address) is disallowed by policy")
			}
			if port.HostID != "" || o.binding != nil && o.binding.Chassis != "" {
				return nil, Conflict("PortBound", "Unable to complete operation on port %s, port is already bound, port type: %s, old_mac %s, new_mac %s.",
					port.ID, port.VIFType, port.MACAddress, mac)
			}
			if _, err := s.allocateMAC(tx, port.NetworkID, port.ID, mac, mac); err != nil {
				return nil, err
			}
			tx.Delete(store.MACKey(port.MACAddress))
			port.MACAddress = mac
		}
	}
	reqs, fixedGiven, err := parseFixedIPs(a)
	if err != nil {
		return nil, err
	}
	if fixedGiven || oldMAC != port.MACAddress {
		nw, err := network()
		if err != nil {
			return nil, err
		}
		if fixedGiven && !p.Admin && nw.ProjectID != p.ProjectID {
			for _, r := range reqs {
				if r.IP.IsValid() {
					return nil, Forbidden("(rule:update_port:fixed_ips:ip_address) is disallowed by policy")
				}
			}
		}
		al := newAllocator(ctx, s, tx, nw, port.ID, port.MACAddress, port.DeviceOwner)
		if fixedGiven {
			if port.FixedIPs, err = al.update(port.FixedIPs, reqs); err != nil {
				return nil, err
			}
			if err := s.dropStalePortForwardings(ctx, tx, port); err != nil {
				return nil, err
			}
		}
		if oldMAC != port.MACAddress {
			if port.FixedIPs, err = al.remac(port.FixedIPs, oldMAC); err != nil {
				return nil, err
			}
		}
	}
	if v, ok, err := a.boolean("port_security_enabled"); err != nil {
		return nil, err
	} else if ok {
		port.PortSecurityEnabled = v
	}
	sgs, sgsGiven, err := parseSecurityGroups(a)
	if err != nil {
		return nil, err
	}
	pairs, pairsGiven, err := parseAddressPairs(a)
	if err != nil {
		return nil, err
	}
	if len(pairs) > 0 && !p.Admin {
		nw, err := network()
		if err != nil {
			return nil, err
		}
		if nw.ProjectID != p.ProjectID {
			return nil, Forbidden("(rule:update_port:allowed_address_pairs) is disallowed by policy")
		}
	}
	if err := s.portSecurity(ctx, tx, p, port, sgs, sgsGiven, pairs, pairsGiven, false); err != nil {
		return nil, err
	}
	if opts, ok, err := parseDHCPOpts(a, true); err != nil {
		return nil, err
	} else if ok {
		port.ExtraDHCPOpts = mergeDHCPOpts(port.ExtraDHCPOpts, opts)
	}
	if _, err := s.attachQoS(tx, p, a, "port", port.ID, &port.QoSPolicyID); err != nil {
		return nil, err
	}
	touch(port)
	return o, tx.Put(store.PortKey(port.NetworkID, port.ID), port)
}

// update computes a port's new addresses as Neutron's
// _get_changed_ips_for_port: requested addresses the port holds are kept,
// a subnet-only request keeps an address the port has on that subnet,
// automatic (EUI-64) addresses stay unless replaced, everything else
// requested is allocated, and what is no longer wanted is freed in the
// same transaction.
func (al *allocator) update(orig []model.FixedIP, reqs []fixedIPReq) ([]model.FixedIP, error) {
	used := make([]bool, len(orig))
	var out []model.FixedIP
	var add []fixedIPReq
	for _, r := range reqs {
		if !r.IP.IsValid() {
			continue
		}
		found := false
		for i, f := range orig {
			if !used[i] && f.IPAddress == r.IP.String() && (r.SubnetID == "" || r.SubnetID == f.SubnetID) {
				used[i], found = true, true
				out = append(out, f)
				break
			}
		}
		if !found {
			add = append(add, r)
		}
	}
	for _, r := range reqs {
		if r.IP.IsValid() {
			continue
		}
		found := false
		for i, f := range orig {
			if !used[i] && f.SubnetID == r.SubnetID {
				used[i], found = true, true
				out = append(out, f)
				break
			}
		}
		if !found {
			add = append(add, r)
		}
	}
	for i, f := range orig {
		if used[i] {
			continue
		}
		sub, err := loadSubnetOn(al.tx, al.net.ID, f.SubnetID)
		if err != nil {
			return nil, err
		}
		if sub != nil && isAutoAddressSubnet(sub) && !routerOwner(al.owner) {
			out = append(out, f) // automatic addresses stay
			continue
		}
		al.tx.Delete(store.IPKey(f.SubnetID, f.IPAddress))
	}
	for _, r := range add {
		f, err := al.one(r)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if out == nil {
		out = []model.FixedIP{}
	}
	return out, nil
}

// remac moves the port's EUI-64 addresses to its new MAC.
func (al *allocator) remac(fixed []model.FixedIP, oldMAC string) ([]model.FixedIP, error) {
	out := make([]model.FixedIP, 0, len(fixed))
	for _, f := range fixed {
		sub, err := al.subnet(f.SubnetID)
		if err != nil {
			return nil, err
		}
		prefix, perr := ipam.ParseCIDR(sub.CIDR)
		old, eerr := ipam.EUI64(prefix, oldMAC)
		if perr != nil || eerr != nil || !isAutoAddressSubnet(sub) || old.String() != f.IPAddress {
			out = append(out, f)
			continue
		}
		al.tx.Delete(store.IPKey(f.SubnetID, f.IPAddress))
		nf, _, err := al.any(sub)
		if err != nil {
			return nil, err
		}
		out = append(out, nf)
	}
	return out, nil
}

// l3Owners are device owners whose ports belong to routers and floating
// IPs and are deleted through those APIs.
var l3Owners = map[string]string{
	model.OwnerRouterInterface: store.KindRouters,
	model.OwnerRouterGateway:   store.KindRouters,
	model.OwnerFloatingIP:      store.KindFloatingIPs,
}

func (s *Server) removePort(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	port := &cur.(*portObj).Port
	if kind, ok := l3Owners[port.DeviceOwner]; ok {
		// As Neutron's prevent_l3_port_deletion: allowed only when the
		// router or floating IP it belonged to is gone.
		if port.DeviceID != "" && tx.Exists(store.ObjectKey(kind, port.DeviceID)) {
			return Conflict("ServicePortInUse", "Port %s cannot be deleted directly via the port API: has device owner %s.", port.ID, port.DeviceOwner)
		}
	}
	// Floating IPs on the port lose their association in the same
	// transaction, as Neutron's disassociate_floatingips.
	if err := s.disassociatePortFloatingIPs(ctx, tx, port.ID); err != nil {
		return err
	}
	return deletePortKeys(tx, port)
}

// listBindings reads the mirror of every port's binding, by port id.
func (s *Server) listBindings(ctx context.Context) (map[string]*model.PortBinding, error) {
	kvs, _, err := s.store.List(ctx, store.ScopedPrefix)
	if err != nil {
		return nil, fmt.Errorf("neutron: port bindings: %w", err)
	}
	out := map[string]*model.PortBinding{}
	for _, kv := range kvs {
		_, id, ok := store.ParseBindingMirror(kv.Key)
		if !ok {
			continue
		}
		var b model.PortBinding
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			return nil, fmt.Errorf("neutron: decode %s: %w", kv.Key, err)
		}
		out[id] = &b
	}
	return out, nil
}

// portPage reads the ports after marker in id order: the ids from the
// port index (which is id-ordered and names each port's network), then the
// ports themselves, all at one revision. It fails with store.ErrNotFound
// for an unknown marker.
func (s *Server) portPage(ctx context.Context, marker string, limit int) ([]model.Object, bool, error) {
	prefix := store.IndexKey(store.KindPorts, "")
	after := ""
	if marker != "" {
		after = store.IndexKey(store.KindPorts, marker)
	}
	idx, rev, more, err := s.store.Page(ctx, prefix, after, limit)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, fmt.Errorf("marker %s: %w", marker, store.ErrNotFound)
		}
		return nil, false, fmt.Errorf("neutron: port page: %w", err)
	}
	keys := make([]string, 0, 2*len(idx))
	for _, kv := range idx {
		net, id := string(kv.Value), strings.TrimPrefix(kv.Key, prefix)
		keys = append(keys, store.PortKey(net, id), store.BindingMirrorKey(net, id))
	}
	kvs, err := s.store.GetAt(ctx, rev, keys)
	if err != nil {
		return nil, false, fmt.Errorf("neutron: port page: %w", err)
	}
	out := make([]model.Object, 0, len(kvs))
	bindings := map[string]*model.PortBinding{}
	for _, kv := range kvs {
		if _, id, ok := store.ParseBindingMirror(kv.Key); ok {
			var b model.PortBinding
			if err := json.Unmarshal(kv.Value, &b); err != nil {
				return nil, false, fmt.Errorf("neutron: decode %s: %w", kv.Key, err)
			}
			bindings[id] = &b
			continue
		}
		var p portObj
		if err := json.Unmarshal(kv.Value, &p.Port); err != nil {
			return nil, false, fmt.Errorf("neutron: decode %s: %w", kv.Key, err)
		}
		out = append(out, &p)
	}
	for _, o := range out {
		p := o.(*portObj)
		p.binding = bindings[p.ID]
	}
	return out, more, nil
}
