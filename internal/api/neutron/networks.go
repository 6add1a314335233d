package neutron

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Tunnel overheads subtracted from the underlay MTU (IPv4 underlay).
var encapOverhead = map[string]int{"geneve": 58, "vxlan": 50, "flat": 0, "vlan": 0}

// networkObj is a network as the API shows it: Neutron's nulls for the
// provider attributes a network type does not have (no physical network on
// a tunnel network, no segmentation id on a flat one).
type networkObj struct{ model.Network }

// MarshalJSON renders the network in Neutron's form.
func (o *networkObj) MarshalJSON() ([]byte, error) {
	type plain model.Network // without this method
	var seg *int
	if o.NetworkType != "flat" {
		seg = &o.SegmentationID
	}
	return json.Marshal(struct {
		*plain
		PhysicalNetwork *string `json:"provider:physical_network"`
		SegmentationID  *int    `json:"provider:segmentation_id"`
		CTZone          *int    `json:"wyvern:ct_zone,omitempty"` // internal: hidden
	}{plain: (*plain)(&o.Network), PhysicalNetwork: nullable(o.PhysicalNetwork), SegmentationID: seg})
}

func networksResource(s *Server) *resource {
	return &resource{
		collection: "networks", singular: "network", kind: "Network",
		list: func(ctx context.Context) ([]model.Object, error) {
			nets, _, err := store.ListOf[model.Network](ctx, s.store, store.KindPrefix(store.KindNetworks))
			out := make([]model.Object, len(nets))
			for i := range nets {
				out[i] = &networkObj{nets[i]}
			}
			return out, err
		},
		load: func(tx *store.Tx, id string) (model.Object, error) {
			n, err := loadNetwork(tx, id)
			if n == nil || err != nil {
				return nil, err
			}
			return &networkObj{*n}, nil
		},
		save: func(tx *store.Tx, o model.Object) error {
			n := &o.(*networkObj).Network
			return tx.Put(store.NetworkKey(n.ID), n)
		},
		visible: func(p auth.Principal, o model.Object) bool {
			n := o.(*networkObj)
			return n.Shared || n.External
		},
		create: s.createNetwork,
		update: s.updateNetwork,
		remove: s.removeNetwork,
	}
}

// orNil turns a typed nil pointer into a nil interface, so callers can test
// a loaded object against nil.
func orNil[T any, PT interface {
	*T
	model.Object
}](o PT, err error) (model.Object, error) {
	if o == nil || err != nil {
		return nil, err
	}
	return o, nil
}

func loadNetwork(tx *store.Tx, id string) (*model.Network, error) {
	var n model.Network
	ok, err := tx.Get(store.NetworkKey(id), &n)
	if err != nil || !ok {
		return nil, err
	}
	return &n, nil
}

var networkAttrs = []string{"name", "description", "project_id", "tenant_id", "admin_state_up", "shared",
	"router:external", "mtu", "provider:network_type", "provider:physical_network",
	"provider:segmentation_id", "port_security_enabled", "availability_zone_hints", "dns_domain",
	"is_default", "qos_policy_id"}

func (s *Server) createNetwork(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only(networkAttrs...); err != nil {
		return nil, err
	}
	n := &model.Network{Standard: std, AdminStateUp: true, Status: model.StatusActive, PortSecurity: true, Subnets: []string{}}
	if err := a.common(&n.Name, &n.Description); err != nil {
		return nil, err
	}
	if err := s.networkFlags(p, n, a); err != nil {
		return nil, err
	}
	typ, hasType, err := a.str("provider:network_type")
	if err != nil {
		return nil, err
	}
	phys, hasPhys, err := a.str("provider:physical_network")
	if err != nil {
		return nil, err
	}
	seg, hasSeg, err := a.integer("provider:segmentation_id")
	if err != nil {
		return nil, err
	}
	if (hasType || hasPhys || hasSeg) && !p.Admin {
		return nil, Forbidden("(rule:create_network:provider:network_type) is disallowed by policy")
	}
	if !hasType || typ == "" {
		typ = s.cfg.DefaultNetworkType
	}
	switch typ {
	case "geneve", "vxlan":
		if hasPhys && phys != "" {
			return nil, InvalidInput("provider:physical_network specified for %s network", typ)
		}
	case "flat":
		if phys == "" {
			return nil, InvalidInput("provider:physical_network required for flat provider network")
		}
		if hasSeg && seg != 0 {
			return nil, InvalidInput("provider:segmentation_id specified for flat network")
		}
	case "vlan":
	default:
		return nil, InvalidInput("network_type value '%s' not supported", typ)
	}
	var id int
	switch typ {
	case "flat":
		// One flat network per physical network (ml2_type_flat): its
		// untagged frames are the network's.
		if tx.Exists(segmentKey(typ, phys, 0)) {
			return nil, Conflict("FlatNetworkInUse", "Unable to create the flat network. Physical network %s is in use.", phys)
		}
	case "vlan":
		phys, id, err = s.allocateVLAN(tx, phys, seg, hasSeg && seg != 0)
	default:
		id, err = s.allocateSegment(tx, typ, seg, hasSeg && seg != 0, phys)
	}
	if err != nil {
		return nil, err
	}
	n.NetworkType, n.PhysicalNetwork, n.SegmentationID = typ, phys, id
	tx.PutString(segmentKey(typ, phys, id), n.ID)
	if n.CTZone, err = allocateCTZone(tx, n.ID); err != nil {
		return nil, err
	}
	maxMTU := s.cfg.GlobalMTU - encapOverhead[typ]
	n.MTU = maxMTU
	if mtu, ok, err := a.integer("mtu"); err != nil {
		return nil, err
	} else if ok && mtu != 0 {
		if mtu < 68 || mtu > maxMTU {
			return nil, InvalidInput("Requested MTU is too big, maximum is %d", maxMTU)
		}
		n.MTU = mtu
	}
	if given, err := s.attachQoS(tx, p, a, "network", n.ID, &n.QoSPolicyID); err != nil {
		return nil, err
	} else if !given {
		if err := s.defaultQoS(tx, p, n); err != nil {
			return nil, err
		}
	}
	if err := tx.Put(store.NetworkKey(n.ID), n); err != nil {
		return nil, err
	}
	return &networkObj{*n}, nil
}

func segmentKey(typ, phys string, id int) string {
	if typ == "vlan" || typ == "flat" {
		return store.SegmentKey(typ+"/"+phys, id)
	}
	return store.SegmentKey(typ, id)
}

// allocateSegment reserves a segmentation id: the requested one, or a free
// one from the configured range.
func (s *Server) allocateSegment(tx *store.Tx, typ string, want int, requested bool, phys string) (int, error) {
	rng := map[string][2]int{"geneve": s.cfg.GeneveRange, "vxlan": s.cfg.VXLANRange, "vlan": s.cfg.VLANRange}[typ]
	if requested {
		max := map[string]int{"geneve": 1<<24 - 1, "vxlan": 1<<24 - 1, "vlan": 4094}[typ]
		if want < 1 || want > max {
			return 0, InvalidInput("provider:segmentation_id %d out of range for %s (1..%d)", want, typ, max)
		}
		if tx.Exists(segmentKey(typ, phys, want)) {
			return 0, Conflict("SegmentationIdInUse", "Unable to create the network. The %s ID %d is in use.", strings.ToUpper(typ), want)
		}
		return want, nil
	}
	size := rng[1] - rng[0] + 1
	// Random probing keeps concurrent creates from fighting over the same
	// id; each probe joins the transaction's read set.
	for range 32 {
		id := rng[0] + rand.IntN(size)
		if !tx.Exists(segmentKey(typ, phys, id)) {
			return id, nil
		}
	}
	return 0, Conflict("NoNetworkAvailable", "Unable to create the network. No tenant network is available for allocation.")
}

// networkFlags applies the boolean attributes shared by create and update.
func (s *Server) networkFlags(p auth.Principal, n *model.Network, a attrs) error {
	if v, ok, err := a.boolean("admin_state_up"); err != nil {
		return err
	} else if ok {
		n.AdminStateUp = v
	}
	if v, ok, err := a.boolean("shared"); err != nil {
		return err
	} else if ok {
		if v != n.Shared && !p.Admin {
			return Forbidden("(rule:create_network:shared) is disallowed by policy")
		}
		n.Shared = v
	}
	if v, ok, err := a.boolean("router:external"); err != nil {
		return err
	} else if ok {
		if v != n.External && !p.Admin {
			return Forbidden("(rule:create_network:router:external) is disallowed by policy")
		}
		n.External = v
	}
	if v, ok, err := a.boolean("port_security_enabled"); err != nil {
		return err
	} else if ok {
		n.PortSecurity = v
	}
	return nil
}

func (s *Server) updateNetwork(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	o := cur.(*networkObj)
	n := &o.Network
	if err := a.only("name", "description", "admin_state_up", "shared", "router:external", "mtu",
		"port_security_enabled", "qos_policy_id", "dns_domain", "availability_zone_hints"); err != nil {
		return nil, err
	}
	if err := a.common(&n.Name, &n.Description); err != nil {
		return nil, err
	}
	// Neutron's policy makes shared and router:external an admin's on
	// update whatever their value: it checks each attribute in the body.
	for _, k := range []string{"shared", "router:external"} {
		if a.has(k) && !p.Admin {
			return nil, Forbidden("(rule:update_network:%s) is disallowed by policy", k)
		}
	}
	wasExternal := n.External
	if err := s.networkFlags(p, n, a); err != nil {
		return nil, err
	}
	if n.External && !wasExternal && (n.NetworkType == "vlan" || n.NetworkType == "flat") {
		// Listed outside the transaction, guarded as removeNetwork does.
		tx.Guard(store.PortsOf(n.ID))
		ports, _, err := store.ListOf[model.Port](ctx, s.store, store.PortsOf(n.ID))
		if err != nil {
			return nil, err
		}
		if err := refuseExternalProvider(n, ports); err != nil {
			return nil, err
		}
	}
	if mtu, ok, err := a.integer("mtu"); err != nil {
		return nil, err
	} else if ok && mtu != 0 {
		maxMTU := s.cfg.GlobalMTU - encapOverhead[n.NetworkType]
		if mtu < 68 || mtu > maxMTU {
			return nil, InvalidInput("Requested MTU is too big, maximum is %d", maxMTU)
		}
		n.MTU = mtu
	}
	if _, err := s.attachQoS(tx, p, a, "network", n.ID, &n.QoSPolicyID); err != nil {
		return nil, err
	}
	touch(n)
	return o, tx.Put(store.NetworkKey(n.ID), n)
}

// removeNetwork deletes a network with no ports but its own service ports
// (DHCP) and, on an external network, those of floating IPs without an
// association, together with those floating IPs, its subnets and their
// allocations.
func (s *Server) removeNetwork(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	n := &cur.(*networkObj).Network
	// The ports are listed outside the transaction, after its snapshot
	// (the network's read). The guard makes a port created or changed on
	// the network since then (its create read the network before this
	// delete committed) fail the commit, so the delete retries and sees
	// it, instead of orphaning it with its addresses, MAC and index keys.
	// A port create committing after the delete conflicts on the network
	// key it read.
	tx.Guard(store.PortsOf(n.ID))
	ports, _, err := store.ListOf[model.Port](ctx, s.store, store.PortsOf(n.ID))
	if err != nil {
		return err
	}
	var fipPorts map[string]bool // deleted with their floating IPs
	if n.External {
		if fipPorts, err = s.removeUnassociatedFloatingIPs(ctx, tx, p, n.ID); err != nil {
			return err
		}
	}
	for _, port := range ports {
		if port.DeviceOwner != model.OwnerDHCP && !fipPorts[port.ID] {
			return Conflict("NetworkInUse", "Unable to complete operation on network %s. There are one or more ports still in use on the network.", n.ID)
		}
	}
	for _, port := range ports {
		if fipPorts[port.ID] {
			continue
		}
		if err := deletePortKeys(tx, &port); err != nil {
			return err
		}
	}
	for _, sid := range n.Subnets {
		var sub model.Subnet
		if ok, err := tx.Get(store.SubnetKey(n.ID, sid), &sub); err != nil {
			return err
		} else if ok {
			tx.Delete(store.SubnetKey(n.ID, sid))
			tx.Delete(store.IndexKey(store.KindSubnets, sid))
			tx.Delete(ownerKey(sub.ProjectID, "subnets", sid))
			freePoolAlloc(tx, &sub)
		}
	}
	if err := releaseQoS(tx, "network", n.ID, n.QoSPolicyID); err != nil {
		return err
	}
	tx.Delete(segmentKey(n.NetworkType, n.PhysicalNetwork, n.SegmentationID))
	freeCTZone(tx, n.CTZone)
	tx.Delete(store.NetworkKey(n.ID))
	return nil
}
