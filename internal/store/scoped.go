package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Scoped copies. An agent needs the routers, floating IPs and security
// group rules of what it can reach, not of the whole cloud; watching their
// global prefixes would wake every chassis on every change. So every
// transaction that writes a router, a floating IP or a rule also writes a
// copy of it under the scope an agent watches, and removes the copies that
// no longer apply, in the same etcd transaction (Tx.commit calls derive):
//
//	scoped/<net>/routers/<router>       the router, for each network it has an interface on
//	scoped/<net>/floatingips/<fip>      the floating IP, on the network of its fixed port
//	                                    and on those of its port forwardings' internal ports
//	sg_rules/<group>/<rule>             the rule, under its security group
//	scoped_index/<kind>/<id>            the keys of the object's copies (JSON list)
//
// The API writes only the objects; the copies follow whatever writes them.

// ScopedPrefix holds every network's scoped copies.
const ScopedPrefix = Prefix + "scoped/"

// ScopedOf is the prefix of the copies of the routers and floating IPs of
// a network.
func ScopedOf(netID string) string { return ScopedPrefix + netID + "/" }

// GroupRulesPrefix holds the copies of every group's rules.
const GroupRulesPrefix = Prefix + "sg_rules/"

// GroupRulesOf is the prefix of the copies of a security group's rules.
func GroupRulesOf(groupID string) string { return GroupRulesPrefix + groupID + "/" }

// ScopedIndexOf is the prefix of the lists of copies of a kind's objects.
func ScopedIndexOf(kind string) string { return Prefix + "scoped_index/" + kind + "/" }

func scopedIndexKey(kind, id string) string { return ScopedIndexOf(kind) + id }

// scopedKinds are the kinds whose objects are copied into scopes.
var scopedKinds = []string{KindRouters, KindFloatingIPs, KindSGRules}

// scopedRecord holds the fields of a router, floating IP or rule that say
// where its copies go.
type scopedRecord struct {
	Interfaces []string `json:"interface_port_ids"`
	PortID     string   `json:"port_id"`
	Group      string   `json:"security_group_id"`
	// Forwardings are a floating IP's port forwardings.
	Forwardings []struct {
		InternalPortID string `json:"internal_port_id"`
	} `json:"port_forwardings"`
}

// ports are the ports whose networks a record's copies go to.
func (r *scopedRecord) ports() []string {
	out := append(slices.Clone(r.Interfaces), r.PortID)
	for _, f := range r.Forwardings {
		out = append(out, f.InternalPortID)
	}
	return out
}

// scopedObject splits key into the kind and id of a copied object.
func scopedObject(key string) (kind, id string, ok bool) {
	for _, k := range scopedKinds {
		p := KindPrefix(k)
		if strings.HasPrefix(key, p) && !strings.Contains(key[len(p):], "/") && len(key) > len(p) {
			return k, key[len(p):], true
		}
	}
	return "", "", false
}

// derive adds to the transaction's writes the copies of the scoped
// objects it writes (see ScopedOf): it reads what it needs (the networks
// of ports, the keys of the current copies) through the transaction, so
// the commit is guarded by them too.
func (t *Tx) derive() {
	type obj struct{ kind, id, key string }
	var objs []obj
	for k := range t.writes {
		if kind, id, ok := scopedObject(k); ok {
			objs = append(objs, obj{kind, id, k})
		}
	}
	if len(objs) == 0 {
		return
	}
	// One round trip for the indexes of every object and the networks of
	// every port they name.
	var pre []string
	recs := make([]*scopedRecord, len(objs))
	for i, o := range objs {
		pre = append(pre, scopedIndexKey(o.kind, o.id))
		if w := t.writes[o.key]; w != nil {
			var r scopedRecord
			if json.Unmarshal([]byte(*w), &r) == nil {
				recs[i] = &r
				for _, p := range r.ports() {
					if p != "" {
						pre = append(pre, IndexKey(KindPorts, p))
					}
				}
			}
		}
	}
	t.fetch(pre...)
	for i, o := range objs {
		idx := scopedIndexKey(o.kind, o.id)
		var old []string
		raw, had := t.value(idx)
		if had {
			_ = json.Unmarshal([]byte(raw), &old)
		}
		var keys []string
		if r := recs[i]; r != nil {
			switch o.kind {
			case KindRouters:
				for _, p := range r.Interfaces {
					if n, _ := t.value(IndexKey(KindPorts, p)); n != "" {
						keys = append(keys, ScopedOf(n)+KindRouters+"/"+o.id)
					}
				}
			case KindFloatingIPs:
				for _, p := range r.ports() {
					if p == "" {
						continue
					}
					if n, _ := t.value(IndexKey(KindPorts, p)); n != "" {
						keys = append(keys, ScopedOf(n)+KindFloatingIPs+"/"+o.id)
					}
				}
			case KindSGRules:
				if r.Group != "" {
					keys = append(keys, GroupRulesOf(r.Group)+o.id)
				}
			}
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		for _, k := range old {
			if !slices.Contains(keys, k) {
				t.Delete(k)
			}
		}
		w := t.writes[o.key]
		for _, k := range keys {
			if w == nil {
				break
			}
			t.PutString(k, *w)
		}
		if w == nil {
			if had {
				t.Delete(idx)
			}
			continue
		}
		if !had || !slices.Equal(old, keys) {
			if keys == nil {
				keys = []string{}
			}
			b, _ := json.Marshal(keys)
			t.PutString(idx, string(b))
		}
	}
}

// Rescope writes the scoped copies of the routers, floating IPs and rules
// stored without them (by a server that predates the copies), one
// transaction each, and returns how many it wrote.
func (s *Store) Rescope(ctx context.Context) (int, error) {
	n := 0
	for _, kind := range scopedKinds {
		idx, _, err := s.List(ctx, ScopedIndexOf(kind))
		if err != nil {
			return n, err
		}
		have := make(map[string]bool, len(idx))
		for _, kv := range idx {
			have[kv.Key[strings.LastIndexByte(kv.Key, '/')+1:]] = true
		}
		objs, _, err := s.List(ctx, KindPrefix(kind))
		if err != nil {
			return n, err
		}
		for _, kv := range objs {
			k, id, ok := scopedObject(kv.Key)
			if !ok || k != kind || have[id] {
				continue
			}
			err := s.Txn(ctx, func(tx *Tx) error {
				if v := tx.GetString(kv.Key); v != "" {
					tx.PutString(kv.Key, v)
				}
				return nil
			})
			if err != nil {
				return n, fmt.Errorf("store: rescope %s: %w", kv.Key, err)
			}
			n++
		}
	}
	return n, nil
}
