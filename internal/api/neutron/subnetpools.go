package neutron

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/auth"
	"github.com/wyvern-sdn/wyvern/internal/ipam"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Subnet pools (extensions "subnet_allocation" and "default-subnetpools").
// Keys, under store.Prefix:
//
//	subnetpools/<pool>                     subnetPool
//	subnetpool_allocs/<pool>/<addr>_<len>  id of the subnet allocated that prefix
//	index/subnet_pool/<subnet>             id of the pool the subnet came from
//	index/default_subnetpool/<4|6>         id of the default pool of that IP version
//	index/subnetpool_lock/<pool>           prefixes of the pool's last allocating transaction
//
// A subnet created from a pool gets its prefix in the subnet's own
// transaction: the transaction guards the pool's allocation prefix, lists
// the allocations, picks a prefix overlapping none of them and writes its
// key. Any allocation committed meanwhile fails the commit (the guard) and
// the create retries on fresh data, so two subnets of one pool never
// overlap. Deleting the subnet deletes its keys; a pool with allocations
// cannot be deleted (409 SubnetPoolInUse).

const kindSubnetPools = "subnetpools"

// subnetPool is a subnet pool, stored and shown as is.
type subnetPool struct {
	model.Standard
	Prefixes         []string `json:"prefixes"`
	DefaultPrefixLen int      `json:"default_prefixlen"`
	MinPrefixLen     int      `json:"min_prefixlen"`
	MaxPrefixLen     int      `json:"max_prefixlen"`
	DefaultQuota     *int     `json:"default_quota"`
	AddressScopeID   *string  `json:"address_scope_id"`
	IPVersion        int      `json:"ip_version"`
	Shared           bool     `json:"shared"`
	IsDefault        bool     `json:"is_default"`
}

// MarshalJSON writes the prefix lengths as strings, as Neutron's
// _make_subnetpool_dict does (str(subnetpool['min_prefixlen'])): clients
// written for Neutron read them so.
func (sp subnetPool) MarshalJSON() ([]byte, error) {
	type plain subnetPool
	return json.Marshal(struct {
		plain
		DefaultPrefixLen string `json:"default_prefixlen"`
		MinPrefixLen     string `json:"min_prefixlen"`
		MaxPrefixLen     string `json:"max_prefixlen"`
	}{plain(sp), strconv.Itoa(sp.DefaultPrefixLen), strconv.Itoa(sp.MinPrefixLen), strconv.Itoa(sp.MaxPrefixLen)})
}

// UnmarshalJSON reads the prefix lengths as strings or as numbers (the
// form records stored before they were written as strings have).
func (sp *subnetPool) UnmarshalJSON(b []byte) error {
	type plain subnetPool
	aux := struct {
		*plain
		DefaultPrefixLen json.Number `json:"default_prefixlen"`
		MinPrefixLen     json.Number `json:"min_prefixlen"`
		MaxPrefixLen     json.Number `json:"max_prefixlen"`
	}{plain: (*plain)(sp)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	for _, f := range []struct {
		n  json.Number
		to *int
	}{{aux.DefaultPrefixLen, &sp.DefaultPrefixLen}, {aux.MinPrefixLen, &sp.MinPrefixLen}, {aux.MaxPrefixLen, &sp.MaxPrefixLen}} {
		if f.n == "" {
			continue
		}
		v, err := f.n.Int64()
		if err != nil {
			return fmt.Errorf("subnet pool prefix length: %w", err)
		}
		*f.to = int(v)
	}
	return nil
}

// poolAllocsOf is the prefix of a pool's allocations.
func poolAllocsOf(pool string) string { return store.Prefix + "subnetpool_allocs/" + pool + "/" }

// poolAllocKey records the subnet holding prefix p of pool.
func poolAllocKey(pool string, p netip.Prefix) string {
	return poolAllocsOf(pool) + p.Addr().String() + "_" + strconv.Itoa(p.Bits())
}

// poolLockKey is written by every allocation from pool, as Neutron
// updates the pool's hash: it holds the prefixes the last allocating
// transaction took, so the later subnets of a bulk create see the earlier
// ones' uncommitted allocations.
func poolLockKey(pool string) string { return store.IndexKey("subnetpool_lock", pool) }

// subnetPoolIndexKey records the pool a subnet was allocated from.
func subnetPoolIndexKey(subnet string) string { return store.IndexKey("subnet_pool", subnet) }

// subnetPoolIndexPrefix is the prefix of every subnetPoolIndexKey.
func subnetPoolIndexPrefix() string { return store.IndexKey("subnet_pool", "") }

// defaultPoolKey holds the id of the default pool of an IP version.
func defaultPoolKey(version int) string {
	return store.IndexKey("default_subnetpool", strconv.Itoa(version))
}

func subnetPoolNotFound(id string) *Error {
	return newError(http.StatusNotFound, "SubnetPoolNotFound", "Subnet pool %s could not be found.", id)
}

func subnetPoolsResource(s *Server) *resource {
	return &resource{
		collection: "subnetpools", singular: "subnetpool", kind: "SubnetPool",
		list:     listObjects[subnetPool](s, kindSubnetPools),
		load:     loadObject[subnetPool](kindSubnetPools),
		save:     saveObject(kindSubnetPools),
		visible:  func(p auth.Principal, o model.Object) bool { return o.(*subnetPool).Shared },
		create:   s.createSubnetPool,
		update:   s.updateSubnetPool,
		remove:   s.removeSubnetPool,
		readOnly: []string{"ip_version", "shared"},
		extra: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("PUT /v2.0/subnetpools/{id}/add_prefixes", s.handlePoolPrefixes(true))
			mux.HandleFunc("PUT /v2.0/subnetpools/{id}/remove_prefixes", s.handlePoolPrefixes(false))
		},
	}
}

var subnetPoolAttrs = []string{"name", "description", "project_id", "tenant_id", "prefixes", "default_prefixlen",
	"min_prefixlen", "max_prefixlen", "default_quota", "address_scope_id", "shared", "is_default"}

var subnetPoolUpdatable = []string{"name", "description", "prefixes", "default_prefixlen", "min_prefixlen",
	"max_prefixlen", "default_quota", "address_scope_id", "is_default"}

// mergePrefixes masks, sorts and compacts prefixes (netaddr.cidr_merge):
// no prefix inside another, sibling halves joined.
func mergePrefixes(in []netip.Prefix) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		ps = append(ps, p.Masked())
	}
	for changed := true; changed; {
		changed = false
		slices.SortFunc(ps, func(a, b netip.Prefix) int {
			if c := a.Addr().Compare(b.Addr()); c != 0 {
				return c
			}
			return a.Bits() - b.Bits()
		})
		out := ps[:0:0]
		for _, p := range ps {
			if n := len(out); n > 0 {
				last := out[n-1]
				if last.Bits() <= p.Bits() && last.Contains(p.Addr()) {
					changed = changed || last != p
					continue // inside the previous one
				}
				if last.Bits() == p.Bits() && p.Bits() > 0 {
					parent, _ := last.Addr().Prefix(p.Bits() - 1)
					if parent.Addr() == last.Addr() && parent.Contains(p.Addr()) {
						out[n-1] = parent
						changed = true
						continue
					}
				}
			}
			out = append(out, p)
		}
		ps = out
	}
	return ps
}

// parsePoolPrefixes reads the prefixes attribute: valid prefixes of one IP
// version, merged.
func parsePoolPrefixes(a attrs) ([]netip.Prefix, int, error) {
	l, _, err := a.strList("prefixes")
	if err != nil {
		return nil, 0, err
	}
	if len(l) == 0 {
		return nil, 0, badAttr("prefixes", "Subnet pool requires at least one prefix")
	}
	var ps []netip.Prefix
	version := 0
	for _, s := range l {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return nil, 0, badAttr("prefixes", "'%s' is not a valid IP subnet", s)
		}
		v := ipam.Version(p.Addr())
		if version != 0 && v != version {
			return nil, 0, newError(http.StatusBadRequest, "PrefixVersionMismatch",
				"Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
		}
		version = v
		ps = append(ps, p)
	}
	return mergePrefixes(ps), version, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func poolPrefixes(sp *subnetPool) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(sp.Prefixes))
	for _, s := range sp.Prefixes {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// poolBounds applies the prefix length attributes and checks
// min <= default <= max <= the address length.
func poolBounds(a attrs, sp *subnetPool) error {
	for _, f := range []struct {
		attr string
		v    *int
	}{{"min_prefixlen", &sp.MinPrefixLen}, {"max_prefixlen", &sp.MaxPrefixLen}, {"default_prefixlen", &sp.DefaultPrefixLen}} {
		if v, ok, err := a.integer(f.attr); err != nil {
			return err
		} else if ok && !a.isNull(f.attr) {
			*f.v = v
		}
	}
	bits := 32
	if sp.IPVersion == 6 {
		bits = 128
	}
	if sp.MaxPrefixLen < 0 || sp.MaxPrefixLen > bits {
		return newError(http.StatusBadRequest, "IllegalSubnetPoolPrefixBounds",
			"Illegal prefix bounds: max_prefixlen=%d, address_length=%d.", sp.MaxPrefixLen, bits)
	}
	if sp.MinPrefixLen < 0 || sp.MinPrefixLen > sp.MaxPrefixLen {
		return newError(http.StatusBadRequest, "IllegalSubnetPoolPrefixBounds",
			"Illegal prefix bounds: min_prefixlen=%d, max_prefixlen=%d.", sp.MinPrefixLen, sp.MaxPrefixLen)
	}
	if sp.DefaultPrefixLen < sp.MinPrefixLen || sp.DefaultPrefixLen > sp.MaxPrefixLen {
		return newError(http.StatusBadRequest, "IllegalSubnetPoolPrefixBounds",
			"Illegal prefix bounds: default_prefixlen=%d, min_prefixlen=%d, max_prefixlen=%d.",
			sp.DefaultPrefixLen, sp.MinPrefixLen, sp.MaxPrefixLen)
	}
	return nil
}

func (s *Server) createSubnetPool(ctx context.Context, tx *store.Tx, p auth.Principal, std model.Standard, a attrs) (model.Object, error) {
	if err := a.only(subnetPoolAttrs...); err != nil {
		return nil, err
	}
	if !a.has("prefixes") {
		return nil, BadRequest("Failed to parse request. Required attribute 'prefixes' not specified")
	}
	sp := &subnetPool{Standard: std}
	if err := a.common(&sp.Name, &sp.Description); err != nil {
		return nil, err
	}
	ps, version, err := parsePoolPrefixes(a)
	if err != nil {
		return nil, err
	}
	sp.Prefixes, sp.IPVersion = prefixStrings(ps), version
	sp.MinPrefixLen, sp.MaxPrefixLen = 8, 32
	if version == 6 {
		sp.MinPrefixLen, sp.MaxPrefixLen = 64, 128
	}
	if v, ok, err := a.integer("min_prefixlen"); err != nil {
		return nil, err
	} else if ok && !a.isNull("min_prefixlen") {
		sp.MinPrefixLen = v
	}
	sp.DefaultPrefixLen = sp.MinPrefixLen
	if err := poolBounds(a, sp); err != nil {
		return nil, err
	}
	if sh, ok, err := a.boolean("shared"); err != nil {
		return nil, err
	} else if ok && sh {
		if !p.Admin {
			return nil, Forbidden("(rule:create_subnetpool:shared) is disallowed by policy")
		}
		sp.Shared = true
	}
	if err := s.poolMutable(ctx, tx, p, sp, a, "create_subnetpool"); err != nil {
		return nil, err
	}
	return sp, tx.Put(store.ObjectKey(kindSubnetPools, sp.ID), sp)
}

// poolMutable applies what create and update share: default_quota,
// is_default and address_scope_id, with their index keys.
func (s *Server) poolMutable(ctx context.Context, tx *store.Tx, p auth.Principal, sp *subnetPool, a attrs, rule string) error {
	if a.has("default_quota") {
		if a.isNull("default_quota") {
			sp.DefaultQuota = nil
		} else if v, _, err := a.integer("default_quota"); err != nil {
			return err
		} else if v < 0 {
			return badAttr("default_quota", "'%d' should be non-negative", v)
		} else {
			sp.DefaultQuota = &v
		}
	}
	if def, ok, err := a.boolean("is_default"); err != nil {
		return err
	} else if ok && def != sp.IsDefault {
		if !p.Admin {
			return Forbidden("(rule:%s:is_default) is disallowed by policy", rule)
		}
		key := defaultPoolKey(sp.IPVersion)
		if def {
			if cur := tx.GetString(key); cur != "" && cur != sp.ID {
				return InvalidInput("A default subnetpool for this IP family has already been set. Only one default may exist per IP family")
			}
			tx.PutString(key, sp.ID)
		} else if tx.GetString(key) == sp.ID {
			tx.Delete(key)
		}
		sp.IsDefault = def
	}
	if a.has("address_scope_id") {
		scope, _, err := a.str("address_scope_id")
		if err != nil {
			return err
		}
		if err := s.joinScope(ctx, tx, p, sp, scope); err != nil {
			return err
		}
	}
	return nil
}

// joinScope moves sp into address scope scope ("" for none), checking the
// scope's IP version and that its pools' prefixes stay disjoint.
func (s *Server) joinScope(ctx context.Context, tx *store.Tx, p auth.Principal, sp *subnetPool, scope string) error {
	if sp.AddressScopeID != nil && *sp.AddressScopeID != scope {
		tx.Delete(scopePoolKey(*sp.AddressScopeID, sp.ID))
	}
	sp.AddressScopeID = nil
	if scope == "" {
		return nil
	}
	if !isUUID(scope) {
		return badAttr("address_scope_id", "'%s' is not a valid UUID", scope)
	}
	sc, err := getObject[addressScope](tx, kindAddressScopes, scope)
	if err != nil {
		return err
	}
	if sc == nil || !(p.Admin || sc.ProjectID == p.ProjectID || sc.Shared) {
		return NotFound("AddressScope", scope)
	}
	if !owns(p, sc) {
		// A shared scope is seen by every project but joined only by its
		// owner's pools (or by an admin): Wyvern has no RBAC policies, so
		// it answers as Neutron without rbac-address-scope.
		return newError(http.StatusBadRequest, "IllegalSubnetPoolAssociationToAddressScope",
			"Illegal subnetpool association: subnetpool %s cannot be associated with address scope %s.", sp.ID, scope)
	}
	if sc.IPVersion != sp.IPVersion {
		return newError(http.StatusBadRequest, "IllegalSubnetPoolIpVersionAssociationToAddressScope",
			"Illegal subnetpool association: subnetpool %s cannot associate with address scope %s because subnetpool ip_version is not %d.",
			sp.ID, scope, sc.IPVersion)
	}
	// The scope's other pools, read inside the transaction; the guard
	// catches a pool joining concurrently.
	tx.Guard(scopePoolsOf(scope))
	kvs, _, err := s.store.List(ctx, scopePoolsOf(scope))
	if err != nil {
		return err
	}
	mine := poolPrefixes(sp)
	for _, kv := range kvs {
		other := strings.TrimPrefix(kv.Key, scopePoolsOf(scope))
		if other == sp.ID || !tx.Exists(kv.Key) {
			continue
		}
		op, err := getObject[subnetPool](tx, kindSubnetPools, other)
		if err != nil {
			return err
		}
		if op == nil {
			continue
		}
		for _, x := range poolPrefixes(op) {
			for _, y := range mine {
				if x.Overlaps(y) {
					return Conflict("AddressScopePrefixConflict",
						"Failed to associate address scope: subnetpools within an address scope must have unique prefixes.")
				}
			}
		}
	}
	tx.PutString(scopePoolKey(scope, sp.ID), "")
	sp.AddressScopeID = &scope
	return nil
}

func (s *Server) updateSubnetPool(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object, a attrs) (model.Object, error) {
	sp := cur.(*subnetPool)
	if err := a.only(subnetPoolUpdatable...); err != nil {
		return nil, err
	}
	if sp.AddressScopeID != nil {
		// Neutron's _check_subnetpool_update_allowed: a pool in a scope
		// its caller does not own is changed only by an admin.
		sc, err := getObject[addressScope](tx, kindAddressScopes, *sp.AddressScopeID)
		if err != nil {
			return nil, err
		}
		if sc != nil && !owns(p, sc) {
			return nil, newError(http.StatusBadRequest, "IllegalSubnetPoolUpdate",
				"Illegal subnetpool update : subnetpool %s cannot be updated when associated with shared address scope %s.", sp.ID, sc.ID)
		}
	}
	if err := a.common(&sp.Name, &sp.Description); err != nil {
		return nil, err
	}
	if a.has("prefixes") {
		ps, version, err := parsePoolPrefixes(a)
		if err != nil {
			return nil, err
		}
		if version != sp.IPVersion {
			return nil, newError(http.StatusBadRequest, "PrefixVersionMismatch", "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
		}
		for _, old := range poolPrefixes(sp) {
			if !slices.ContainsFunc(ps, func(n netip.Prefix) bool { return n.Bits() <= old.Bits() && n.Contains(old.Addr()) }) {
				return nil, newError(http.StatusBadRequest, "IllegalSubnetPoolPrefixUpdate",
					"Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.")
			}
		}
		sp.Prefixes = prefixStrings(ps)
		if sp.AddressScopeID != nil && !a.has("address_scope_id") {
			// Recheck the grown prefixes against the scope's other pools.
			if err := s.joinScope(ctx, tx, p, sp, *sp.AddressScopeID); err != nil {
				return nil, err
			}
		}
	}
	if err := poolBounds(a, sp); err != nil {
		return nil, err
	}
	if err := s.poolMutable(ctx, tx, p, sp, a, "update_subnetpool"); err != nil {
		return nil, err
	}
	touch(sp)
	return sp, tx.Put(store.ObjectKey(kindSubnetPools, sp.ID), sp)
}

// removeSubnetPool deletes a pool no subnet was allocated from.
func (s *Server) removeSubnetPool(ctx context.Context, tx *store.Tx, p auth.Principal, cur model.Object) error {
	sp := cur.(*subnetPool)
	// An allocation committed after the snapshot fails the commit; a later
	// one conflicts on the pool key this delete writes.
	tx.Guard(poolAllocsOf(sp.ID))
	kvs, _, err := s.store.List(ctx, poolAllocsOf(sp.ID))
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if tx.Exists(kv.Key) {
			return Conflict("SubnetPoolInUse", "Unable to complete operation on subnet pool %s. Subnet pool has existing allocations.", sp.ID)
		}
	}
	if sp.AddressScopeID != nil {
		tx.Delete(scopePoolKey(*sp.AddressScopeID, sp.ID))
	}
	if sp.IsDefault && tx.GetString(defaultPoolKey(sp.IPVersion)) == sp.ID {
		tx.Delete(defaultPoolKey(sp.IPVersion))
	}
	tx.Delete(poolLockKey(sp.ID))
	tx.Delete(store.ObjectKey(kindSubnetPools, sp.ID))
	return nil
}

// requestedPool returns the pool a subnet create asks for (subnetpool_id,
// or use_default_subnetpool), nil when none.
func requestedPool(tx *store.Tx, p auth.Principal, a attrs) (*subnetPool, error) {
	id, _, err := a.str("subnetpool_id")
	if err != nil {
		return nil, err
	}
	useDefault, _, err := a.boolean("use_default_subnetpool")
	if err != nil {
		return nil, err
	}
	if id != "" && useDefault {
		return nil, BadRequest("subnetpool_id and use_default_subnetpool cannot both be specified")
	}
	if useDefault {
		v, ok, err := a.integer("ip_version")
		if err != nil {
			return nil, err
		}
		if !ok || (v != 4 && v != 6) {
			return nil, BadRequest("ip_version must be specified in the absence of cidr and subnetpool_id")
		}
		id = tx.GetString(defaultPoolKey(v))
		if id == "" {
			return nil, BadRequest("No default subnetpool found for IPv%d", v)
		}
	}
	if id == "" {
		return nil, nil
	}
	sp, err := getObject[subnetPool](tx, kindSubnetPools, id)
	if err != nil {
		return nil, err
	}
	if sp == nil || !(p.Admin || sp.ProjectID == p.ProjectID || sp.Shared) {
		return nil, subnetPoolNotFound(id)
	}
	if v, ok, err := a.integer("ip_version"); err != nil {
		return nil, err
	} else if ok && !a.isNull("ip_version") && v != sp.IPVersion {
		return nil, InvalidInput("Cannot allocate IPv%d subnet from IPv%d subnet pool", v, sp.IPVersion)
	}
	return sp, nil
}

// allocateFromPool picks the subnet's prefix from sp inside tx: the
// requested cidr if it lies in the pool and overlaps no allocation, else
// the first free prefix of the requested (or default) length. The caller
// records it with recordPoolAlloc in the same transaction.
func (s *Server) allocateFromPool(ctx context.Context, tx *store.Tx, sp *subnetPool, a attrs, cidrText string) (netip.Prefix, error) {
	tx.Guard(poolAllocsOf(sp.ID))
	kvs, _, err := s.store.List(ctx, poolAllocsOf(sp.ID))
	if err != nil {
		return netip.Prefix{}, err
	}
	var taken []netip.Prefix
	listed := map[string]bool{}
	for _, kv := range kvs {
		name := strings.TrimPrefix(kv.Key, poolAllocsOf(sp.ID))
		if p, err := netip.ParsePrefix(strings.Replace(name, "_", "/", 1)); err == nil {
			taken = append(taken, p)
			listed[p.String()] = true
		}
	}
	// The listing does not see this transaction's own allocations (earlier
	// subnets of a bulk create): the pool's lock key lists them.
	var recent []string
	if raw := tx.GetString(poolLockKey(sp.ID)); raw != "" {
		recent = strings.Split(raw, ",")
	}
	var pending []string
	for _, r := range recent {
		if p, err := netip.ParsePrefix(r); err == nil && !listed[r] && tx.Exists(poolAllocKey(sp.ID, p)) {
			taken = append(taken, p)
			pending = append(pending, r)
		}
	}
	lock := func(p netip.Prefix) netip.Prefix {
		tx.PutString(poolLockKey(sp.ID), strings.Join(append(pending, p.String()), ","))
		return p
	}
	free := func(c netip.Prefix) (netip.Prefix, bool) {
		for _, t := range taken {
			if t.Overlaps(c) {
				return t, false
			}
		}
		return netip.Prefix{}, true
	}
	bounds := func(n int) error {
		if n < sp.MinPrefixLen {
			return newError(http.StatusBadRequest, "MinPrefixSubnetAllocationError",
				"Unable to allocate subnet with prefix length %d, minimum allowed prefix is %d.", n, sp.MinPrefixLen)
		}
		if n > sp.MaxPrefixLen {
			return newError(http.StatusBadRequest, "MaxPrefixSubnetAllocationError",
				"Unable to allocate subnet with prefix length %d, maximum allowed prefix is %d.", n, sp.MaxPrefixLen)
		}
		return nil
	}
	if cidrText != "" {
		want, err := parseCIDRAttr("cidr", cidrText)
		if err != nil {
			return netip.Prefix{}, err
		}
		if err := bounds(want.Bits()); err != nil {
			return netip.Prefix{}, err
		}
		inPool := slices.ContainsFunc(poolPrefixes(sp), func(p netip.Prefix) bool {
			return p.Bits() <= want.Bits() && p.Contains(want.Addr())
		})
		if _, ok := free(want); !inPool || !ok {
			return netip.Prefix{}, Conflict("SubnetAllocationError",
				"Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.")
		}
		return lock(want), nil
	}
	n := sp.DefaultPrefixLen
	if v, ok, err := a.integer("prefixlen"); err != nil {
		return netip.Prefix{}, err
	} else if ok && !a.isNull("prefixlen") {
		n = v
	}
	if err := bounds(n); err != nil {
		return netip.Prefix{}, err
	}
	for _, pp := range poolPrefixes(sp) {
		if n < pp.Bits() {
			continue
		}
		last := ipam.Last(pp)
		for addr := pp.Masked().Addr(); addr.IsValid() && pp.Contains(addr); {
			c := netip.PrefixFrom(addr, n)
			t, ok := free(c)
			if ok {
				return lock(c), nil
			}
			// Skip past the blocking allocation: the address after the
			// larger of the two is aligned for length n.
			end := ipam.Last(c)
			if te := ipam.Last(t); te.Compare(end) > 0 {
				end = te
			}
			if end.Compare(last) >= 0 {
				break
			}
			addr = end.Next()
		}
	}
	return netip.Prefix{}, Conflict("PrefixPoolExhausted",
		"Failed to allocate subnet: Insufficient prefix space to allocate subnet size /%d.", n)
}

// recordPoolAlloc writes the keys of a subnet's allocation from a pool.
func recordPoolAlloc(tx *store.Tx, pool string, p netip.Prefix, subnet string) {
	tx.PutString(poolAllocKey(pool, p), subnet)
	tx.PutString(subnetPoolIndexKey(subnet), pool)
}

// freePoolAlloc deletes the keys of a subnet's allocation, if it came from
// a pool.
func freePoolAlloc(tx *store.Tx, sub *model.Subnet) {
	pool := tx.GetString(subnetPoolIndexKey(sub.ID))
	if pool == "" {
		return
	}
	if p, err := netip.ParsePrefix(sub.CIDR); err == nil {
		tx.Delete(poolAllocKey(pool, p))
	}
	tx.Delete(subnetPoolIndexKey(sub.ID))
}

// handlePoolPrefixes serves the subnetpool-prefix-ops extension: PUT
// .../add_prefixes and .../remove_prefixes with {"prefixes": [...]}, the
// pool's prefixes out. Adding is an update of the prefixes to the union;
// removing takes the prefixes out of the pool (as netaddr.IPSet does) and
// is refused while a subnet allocated from the pool lies in what goes.
func (s *Server) handlePoolPrefixes(add bool) http.HandlerFunc {
	res := &resource{kind: "SubnetPool", visible: func(p auth.Principal, o model.Object) bool { return o.(*subnetPool).Shared }}
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		id := r.PathValue("id")
		var body attrs
		if err := decodeJSON(r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := body.only("prefixes"); err != nil {
			s.writeError(w, r, err)
			return
		}
		if !body.has("prefixes") {
			s.writeError(w, r, BadRequest("Failed to parse request. Required attribute 'prefixes' not specified"))
			return
		}
		given, _, err := parsePoolPrefixes(body)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var out *subnetPool
		err = s.store.Txn(r.Context(), func(tx *store.Tx) error {
			sp, err := getObject[subnetPool](tx, kindSubnetPools, id)
			if err != nil {
				return err
			}
			if sp == nil || !s.canSee(res, p, sp) || !owns(p, sp) {
				return subnetPoolNotFound(id)
			}
			if add {
				l := append(slices.Clone(sp.Prefixes), prefixStrings(given)...)
				raw, err := json.Marshal(l)
				if err != nil {
					return err
				}
				o, err := s.updateSubnetPool(r.Context(), tx, p, sp, attrs{"prefixes": raw})
				if err != nil {
					return err
				}
				out = o.(*subnetPool)
				return nil
			}
			// The checks of an update, then the shrink an update refuses.
			if _, err := s.updateSubnetPool(r.Context(), tx, p, sp, attrs{}); err != nil {
				return err
			}
			var kept []netip.Prefix
			for _, have := range poolPrefixes(sp) {
				kept = append(kept, subtractPrefixes(have, given)...)
			}
			kept = mergePrefixes(kept)
			if len(kept) == 0 {
				return badAttr("prefixes", "Subnet pool requires at least one prefix")
			}
			tx.Guard(poolAllocsOf(sp.ID))
			kvs, _, err := s.store.List(r.Context(), poolAllocsOf(sp.ID))
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				if !tx.Exists(kv.Key) {
					continue
				}
				addr, bits, _ := strings.Cut(strings.TrimPrefix(kv.Key, poolAllocsOf(sp.ID)), "_")
				a, err1 := netip.ParseAddr(addr)
				n, err2 := strconv.Atoi(bits)
				if err1 != nil || err2 != nil {
					continue
				}
				alloc := netip.PrefixFrom(a, n)
				if !slices.ContainsFunc(kept, func(k netip.Prefix) bool { return k.Bits() <= alloc.Bits() && k.Contains(alloc.Addr()) }) {
					return newError(http.StatusBadRequest, "IllegalSubnetPoolUpdate",
						"Illegal subnetpool update : a subnet was allocated from %s, which would be removed from the pool.", alloc)
				}
			}
			sp.Prefixes = prefixStrings(kept)
			out = sp
			return tx.Put(store.ObjectKey(kindSubnetPools, sp.ID), sp)
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"prefixes": out.Prefixes})
	}
}

// subtractPrefixes is what of p lies outside every prefix of minus.
func subtractPrefixes(p netip.Prefix, minus []netip.Prefix) []netip.Prefix {
	for _, m := range minus {
		switch {
		case m.Bits() <= p.Bits() && m.Contains(p.Addr()):
			return nil // p lies inside m
		case p.Bits() < m.Bits() && p.Contains(m.Addr()):
			// Split p in halves and subtract from each.
			lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
			hiAddr := p.Addr()
			b := hiAddr.AsSlice()
			b[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
			hiAddr, _ = netip.AddrFromSlice(b)
			if p.Addr().Is4() {
				hiAddr = hiAddr.Unmap()
			}
			hi := netip.PrefixFrom(hiAddr, p.Bits()+1)
			return append(subtractPrefixes(lo, minus), subtractPrefixes(hi, minus)...)
		}
	}
	return []netip.Prefix{p}
}
