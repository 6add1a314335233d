package neutron

import (
	"context"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// fipRecord is a floating IP as stored: the model plus the id of the port
// holding its address on the external network, which the API does not
// show. Readers that decode the key as a model.FloatingIP ignore it.
type fipRecord struct {
	model.FloatingIP
	FloatingPort string `json:"floating_port_id"`
}

func fipKey(id string) string { return store.ObjectKey(store.KindFloatingIPs, id) }

// fipThroughRouter returns the id of a floating IP associated through
// router routerID with a fixed address that match accepts, or "". The
// floating IPs are listed outside tx; each candidate is read inside it, and
// associating a floating IP reads the router, so a concurrent association
// conflicts with the caller's change to the router.
func (s *Server) fipThroughRouter(ctx context.Context, tx *store.Tx, routerID string, match func(fixedIP string) bool) (string, error) {
	fips, _, err := store.ListOf[fipRecord](ctx, s.store, store.KindPrefix(store.KindFloatingIPs))
	if err != nil {
		return "", err
	}
	for _, f := range fips {
		if f.RouterID != routerID || !match(f.FixedIPAddress) {
			continue
		}
		var cur fipRecord
		ok, err := tx.Get(fipKey(f.ID), &cur)
		if err != nil {
			return "", err
		}
		if !ok || cur.RouterID != routerID || !match(cur.FixedIPAddress) {
			continue
		}
		// A port deleted under its floating IP leaves no association.
		if port, err := l3Port(tx, cur.PortID); err != nil {
			return "", err
		} else if port != nil {
			return cur.ID, nil
		}
	}
	return "", nil
}
