package neutron

import (
	"context"
	"fmt"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// MigrateBindings moves the bindings that agents of an older version wrote
// into port records (binding:host_id, status and binding:vif_details with
// the agent's bridge_name) into the chassis' own keys
// (store.BindingKey), one transaction per port, and returns how many it
// moved. The record keeps binding:host_id as the requested host; its
// status and VIF details become the API's. Until it runs (and for records
// it does not recognise) the API reports a record as it is stored.
func (s *Server) MigrateBindings(ctx context.Context) (int, error) {
	ports, _, err := store.ListOf[model.Port](ctx, s.store, store.KindPrefix(store.KindPorts))
	if err != nil {
		return 0, fmt.Errorf("migrate bindings: %w", err)
	}
	done := 0
	for _, p := range ports {
		if !agentBound(&p) {
			continue
		}
		moved := false
		err := s.store.Txn(ctx, func(tx *store.Tx) error {
			moved = false
			key := store.PortKey(p.NetworkID, p.ID)
			var cur model.Port
			if ok, err := tx.Get(key, &cur); err != nil || !ok || !agentBound(&cur) {
				return err
			}
			bkey := store.BindingKey(cur.HostID, cur.ID)
			if !tx.Exists(bkey) {
				if err := tx.Put(bkey, model.PortBinding{NetworkID: cur.NetworkID, Status: cur.Status,
					VIFType: cur.VIFType, VIFDetails: cur.VIFDetails}); err != nil {
					return err
				}
			}
			setBinding(&cur, cur.HostID)
			cur.Status = model.StatusDown
			moved = true
			return tx.Put(key, &cur)
		})
		if err != nil {
			return done, fmt.Errorf("migrate binding of port %s: %w", p.ID, err)
		}
		if moved {
			done++
		}
	}
	return done, nil
}

// agentBound reports a port record an agent bound by rewriting it (before
// bindings had keys of their own): only an agent wrote bridge_name.
func agentBound(p *model.Port) bool {
	_, ok := p.VIFDetails["bridge_name"]
	return ok && p.HostID != ""
}
