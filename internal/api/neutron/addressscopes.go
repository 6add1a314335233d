package neutron

import (
	"context"
	"net/http"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Address scopes (extension "address-scope"). Keys, under store.Prefix:
//
//	address_scopes/<scope>                  addressScope
//	index/address_scope_pools/<scope>/<pool> "" for each subnet pool in the scope
//
// The index lets a scope's delete find the pools using it (409
// AddressScopeInUse) and a pool joining a scope check its prefixes against
// the scope's other pools. Wyvern records scopes; routing between scopes is
// not restricted by them.

const kindAddressScopes = "address_scopes"

// addressScope is an address scope, stored and shown as is.
type addressScope struct {
	model.Standard
	IPVersion int  `json:"ip_version"`
	Shared    bool `json:"shared"`
}

// scopePoolKey records that pool belongs to scope.
func scopePoolKey(scope, pool string) string {
	return store.IndexKey("address_scope_pools", scope+"/"+pool)
}

// scopePoolsOf is the prefix of the pools of scope.
func scopePoolsOf(scope string) string { return store.IndexKey("address_scope_pools", scope+"/") }

func addressScopesResource(s *Server) *resource {
	return &resource{
		collection: "address-scopes", singular: "address_scope", kind: "AddressScope",
		list:    listObjects[addressScope](s, kindAddressScopes),
		load:    loadObject[addressScope](kindAddressScopes),
		save:    saveObject(kindAddressScopes),
		visible: func(p auth.Principal, o model.Object) bool { return o.(*addressScope).Shared },
		create:  s.createAddressScope,
		update:  s.updateAddressScope,
		remove:  s.removeAddressScope,
	}
}

func (s *Server) createAddressScope(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only("name", "description", "project_id", "tenant_id", "ip_version", "shared"); err != nil {
		return nil, err
	}
	sc := &addressScope{Standard: std}
	if err := a.common(&sc.Name, &sc.Description); err != nil {
		return nil, err
	}
	v, ok, err := a.integer("ip_version")
	if err != nil {
		return nil, err
	}
	if !ok || a.isNull("ip_version") {
		return nil, BadRequest("Failed to parse request. Required attribute 'ip_version' not specified")
	}
	if v != 4 && v != 6 {
		return nil, badAttr("ip_version", "%d is not in [4, 6]", v)
	}
	sc.IPVersion = v
	if sh, ok, err := a.boolean("shared"); err != nil {
		return nil, err
	} else if ok {
		if sh && !p.Admin {
			return nil, Forbidden("(rule:create_address_scope:shared) is disallowed by policy")
		}
		sc.Shared = sh
	}
	return sc, tx.Put(store.ObjectKey(kindAddressScopes, sc.ID), sc)
}

func (s *Server) updateAddressScope(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	sc := cur.(*addressScope)
	if a.has("ip_version") {
		return nil, BadRequest("Cannot update read-only attribute ip_version")
	}
	if err := a.only("name", "description", "shared"); err != nil {
		return nil, err
	}
	if err := a.common(&sc.Name, &sc.Description); err != nil {
		return nil, err
	}
	if sh, ok, err := a.boolean("shared"); err != nil {
		return nil, err
	} else if ok && !p.Admin {
		// Neutron's policy makes shared an admin's attribute on update
		// whatever its value, as it checks every attribute in the body.
		return nil, Forbidden("(rule:update_address_scope:shared) is disallowed by policy")
	} else if ok && sh != sc.Shared {
		if !sh {
			return nil, newError(http.StatusBadRequest, "AddressScopeUpdateError",
				"Unable to update address scope %s : Shared address scope can't be unshared.", sc.ID)
		}
		sc.Shared = sh
	}
	touch(sc)
	return sc, tx.Put(store.ObjectKey(kindAddressScopes, sc.ID), sc)
}

// removeAddressScope deletes a scope no subnet pool uses.
func (s *Server) removeAddressScope(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	sc := cur.(*addressScope)
	// A pool joining the scope after the snapshot fails the commit; one
	// joining later reads the scope key this delete writes.
	tx.Guard(scopePoolsOf(sc.ID))
	kvs, _, err := s.store.List(ctx, scopePoolsOf(sc.ID))
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if tx.Exists(kv.Key) {
			return Conflict("AddressScopeInUse",
				"Unable to complete operation on address scope %s. There are one or more subnet pools in use on the address scope.", sc.ID)
		}
	}
	tx.Delete(store.ObjectKey(kindAddressScopes, sc.ID))
	return nil
}
