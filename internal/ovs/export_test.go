package ovs

// Operations only the tests use: the agent never deletes bridges or ports,
// nor writes external_ids, and reads no datapath id. They are compiled
// into this package's test binary only, for its external tests.

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/wyvern-sdn/wyvern/internal/ovs/vswitchd"
)

// BridgeExternalIDs returns a copy of a bridge's external_ids.
func (d *DB) BridgeExternalIDs(ctx context.Context, bridge string) (map[string]string, error) {
	br, err := d.bridge(ctx, bridge)
	if err != nil {
		return nil, err
	}
	if br == nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, ErrNotFound)
	}
	return maps.Clone(br.ExternalIDs), nil
}

// DeleteBridge removes a bridge and its ports; a missing bridge is no error.
func (d *DB) DeleteBridge(ctx context.Context, name string) error {
	br, err := d.bridge(ctx, name)
	if err != nil || br == nil {
		return err
	}
	root, err := d.root(ctx)
	if err != nil {
		return err
	}
	ops, err := d.c.Where(root).Mutate(root, model.Mutation{
		Field: &root.Bridges, Mutator: ovsdb.MutateOperationDelete, Value: []string{br.UUID},
	})
	if err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return d.transactWait(ctx, ops)
}

// SetBridgeExternalIDs sets the given keys of a bridge's external_ids
// (an empty value removes the key) and leaves the others alone.
func (d *DB) SetBridgeExternalIDs(ctx context.Context, bridge string, kv map[string]string) error {
	br, err := d.bridge(ctx, bridge)
	if err != nil {
		return err
	}
	if br == nil {
		return fmt.Errorf("bridge %s: %w", bridge, ErrNotFound)
	}
	var del []string
	ins := map[string]string{}
	for k, v := range kv {
		del = append(del, k) // insert does not overwrite: delete first
		if v != "" {
			ins[k] = v
		}
	}
	muts := []model.Mutation{{Field: &br.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: del}}
	if len(ins) > 0 {
		muts = append(muts, model.Mutation{Field: &br.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: ins})
	}
	ops, err := d.c.Where(br).Mutate(br, muts...)
	if err != nil {
		return fmt.Errorf("set external_ids of %s: %w", bridge, err)
	}
	if err := d.transact(ctx, ops); err != nil {
		return fmt.Errorf("set external_ids of %s: %w", bridge, err)
	}
	// Return once our own cache shows the change, so a Get right after
	// a Set reads it back.
	return d.waitFor(ctx, func() (bool, error) {
		got, err := d.BridgeExternalIDs(ctx, bridge)
		if err != nil {
			return false, err
		}
		for k, v := range kv {
			if got[k] != v {
				return false, nil
			}
		}
		return true, nil
	})
}

// DeletePort removes a port from a bridge; a missing port is no error.
func (d *DB) DeletePort(ctx context.Context, bridge, name string) error {
	br, err := d.bridge(ctx, bridge)
	if err != nil || br == nil {
		return err
	}
	var ports []vswitchd.Port
	if err := d.c.WhereCache(func(p *vswitchd.Port) bool { return p.Name == name }).List(ctx, &ports); err != nil {
		return fmt.Errorf("delete port %s: %w", name, err)
	}
	for _, p := range ports {
		if !slices.Contains(br.Ports, p.UUID) {
			continue
		}
		ops, err := d.c.Where(br).Mutate(br, model.Mutation{
			Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{p.UUID},
		})
		if err != nil {
			return fmt.Errorf("delete port %s: %w", name, err)
		}
		if err := d.transactWait(ctx, ops); err != nil {
			return fmt.Errorf("delete port %s: %w", name, err)
		}
	}
	return nil
}

// SetInterfaceExternalIDs sets keys of an interface's external_ids (an
// empty value removes the key).
func (d *DB) SetInterfaceExternalIDs(ctx context.Context, name string, kv map[string]string) error {
	ifc, err := d.iface(ctx, name)
	if err != nil {
		return err
	}
	var del []string
	ins := map[string]string{}
	for k, v := range kv {
		del = append(del, k)
		if v != "" {
			ins[k] = v
		}
	}
	muts := []model.Mutation{{Field: &ifc.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: del}}
	if len(ins) > 0 {
		muts = append(muts, model.Mutation{Field: &ifc.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: ins})
	}
	ops, err := d.c.Where(ifc).Mutate(ifc, muts...)
	if err != nil {
		return fmt.Errorf("set external_ids of %s: %w", name, err)
	}
	return d.transact(ctx, ops)
}

// AttachedMAC is external_ids:attached-mac.
func (i Interface) AttachedMAC() string { return i.ExternalIDs["attached-mac"] }

// DatapathID is the bridge's datapath id from the features reply.
func (c *OFConn) DatapathID() uint64 { return c.dpid }
