package neutron

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Address groups (extension "address-group"). Keys, under store.Prefix:
//
//	address_groups/<group>   addressGroup
//
// Groups are recorded and edited (add_addresses, remove_addresses);
// security group rules do not accept remote_address_group_id yet, so no
// group is ever in use.

const kindAddressGroups = "address_groups"

// addressGroup is an address group, stored and shown as is.
type addressGroup struct {
	model.Standard
	Addresses []string `json:"addresses"`
}

func addressGroupsResource(s *Server) *resource {
	return &resource{
		collection: "address-groups", singular: "address_group", kind: "AddressGroup",
		list:   listObjects[addressGroup](s, kindAddressGroups),
		load:   loadObject[addressGroup](kindAddressGroups),
		save:   saveObject(kindAddressGroups),
		create: s.createAddressGroup,
		update: s.updateAddressGroup,
		remove: func(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
			tx.Delete(store.ObjectKey(kindAddressGroups, cur.Std().ID))
			return nil
		},
		extra: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("PUT /v2.0/address-groups/{id}/add_addresses", s.handleGroupAddresses(true))
			mux.HandleFunc("PUT /v2.0/address-groups/{id}/remove_addresses", s.handleGroupAddresses(false))
		},
	}
}

// parseGroupAddresses reads a list of CIDRs as Neutron does, without
// duplicates. Each is stored as its network ("192.168.0.10/24" is
// "192.168.0.0/24"), as address_group_db normalises it. On create the API
// validates the list as subnets, so each must carry its prefix length;
// the add_addresses and remove_addresses actions also take a bare address
// as a host route ("192.0.2.1" is "192.0.2.1/32").
func parseGroupAddresses(a attrs, bare bool) ([]string, bool, error) {
	l, ok, err := a.strList("addresses")
	if err != nil || !ok {
		return nil, ok, err
	}
	out := []string{}
	seen := map[string]bool{}
	for _, s := range l {
		var pfx netip.Prefix
		if strings.Contains(s, "/") {
			pfx, err = netip.ParsePrefix(s)
		} else if bare {
			var ip netip.Addr
			ip, err = netip.ParseAddr(s)
			if err == nil {
				pfx = netip.PrefixFrom(ip, ip.BitLen())
			}
		} else if ip, perr := netip.ParseAddr(s); perr == nil {
			return nil, true, badAttr("addresses", "'%s' isn't a recognized IP subnet cidr, '%s' is recommended", s, netip.PrefixFrom(ip, ip.BitLen()))
		} else {
			err = perr
		}
		if err != nil || pfx.Addr().Zone() != "" {
			return nil, true, badAttr("addresses", "'%s' is not a valid IP subnet", s)
		}
		n := pfx.Masked().String()
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, true, nil
}

func (s *Server) createAddressGroup(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only("name", "description", "project_id", "tenant_id", "addresses"); err != nil {
		return nil, err
	}
	g := &addressGroup{Standard: std, Addresses: []string{}}
	if err := a.common(&g.Name, &g.Description); err != nil {
		return nil, err
	}
	if l, ok, err := parseGroupAddresses(a, false); err != nil {
		return nil, err
	} else if ok {
		g.Addresses = l
	}
	return g, tx.Put(store.ObjectKey(kindAddressGroups, g.ID), g)
}

func (s *Server) updateAddressGroup(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	g := cur.(*addressGroup)
	if a.has("addresses") {
		return nil, BadRequest("Cannot update read-only attribute addresses")
	}
	if err := a.only("name", "description"); err != nil {
		return nil, err
	}
	if err := a.common(&g.Name, &g.Description); err != nil {
		return nil, err
	}
	touch(g)
	return g, tx.Put(store.ObjectKey(kindAddressGroups, g.ID), g)
}

// handleGroupAddresses serves PUT .../add_addresses and
// .../remove_addresses: {"addresses": [...]} in, the group out. Adding an
// address already in the group (400 AddressesAlreadyExist) or removing one
// that is not (404 AddressesNotFound) changes nothing.
func (s *Server) handleGroupAddresses(add bool) http.HandlerFunc {
	res := &resource{kind: "AddressGroup"}
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		id := r.PathValue("id")
		var body attrs
		if err := decodeJSON(r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := body.only("addresses"); err != nil {
			s.writeError(w, r, err)
			return
		}
		addrs, ok, err := parseGroupAddresses(body, true)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			s.writeError(w, r, BadRequest("Failed to parse request. Required attribute 'addresses' not specified"))
			return
		}
		var out *addressGroup
		err = s.store.Txn(r.Context(), func(tx *store.Tx) error {
			g, err := getObject[addressGroup](tx, kindAddressGroups, id)
			if err != nil {
				return err
			}
			if g == nil || !s.canSee(res, p, g) || !owns(p, g) {
				return NotFound("AddressGroup", id)
			}
			in := map[string]bool{}
			for _, x := range g.Addresses {
				in[x] = true
			}
			var bad []string
			for _, x := range addrs {
				if in[x] == add {
					bad = append(bad, x)
				}
			}
			switch {
			case len(bad) > 0 && add:
				return newError(http.StatusBadRequest, "AddressesAlreadyExist",
					"Addresses %s already exist in the address group %s.", fmtList(bad), id)
			case len(bad) > 0:
				return newError(http.StatusNotFound, "AddressesNotFound",
					"Addresses %s not found in the address group %s.", fmtList(bad), id)
			}
			if add {
				g.Addresses = append(g.Addresses, addrs...)
			} else {
				drop := map[string]bool{}
				for _, x := range addrs {
					drop[x] = true
				}
				kept := []string{}
				for _, x := range g.Addresses {
					if !drop[x] {
						kept = append(kept, x)
					}
				}
				g.Addresses = kept
			}
			touch(g)
			out = g
			return tx.Put(store.ObjectKey(kindAddressGroups, g.ID), g)
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"address_group": out})
	}
}

// fmtList renders addresses as Neutron's messages do: ['a', 'b'].
func fmtList(l []string) string { return "['" + strings.Join(l, "', '") + "']" }
