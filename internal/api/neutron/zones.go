package neutron

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Conntrack zones. Every network (its security groups) and every router
// (its NAT) gets a zone of its own from one pool, pipeline.ZoneMin..
// ZoneMax, in the transaction that creates it, the way segmentation ids
// are allocated: ct_zones/<zone> holds the owner's id, so two objects can
// never share a zone, whatever their types and segmentation ids. The zone
// is stored in the record (model.Network.CTZone, model.RouterRecord.CTZone)
// and not shown by the API.

// ctZoneKey records which network or router holds a conntrack zone.
func ctZoneKey(zone int) string { return store.Prefix + "ct_zones/" + strconv.Itoa(zone) }

// allocateCTZone reserves a free zone for owner (a network or router id).
func allocateCTZone(tx *store.Tx, owner string) (int, error) {
	size := pipeline.ZoneMax - pipeline.ZoneMin + 1
	// Random probing keeps concurrent creates from fighting over the same
	// zone; each probe joins the transaction's read set.
	for range 32 {
		z := pipeline.ZoneMin + rand.IntN(size)
		if !tx.Exists(ctZoneKey(z)) {
			tx.PutString(ctZoneKey(z), owner)
			return z, nil
		}
	}
	return 0, Conflict("NoConntrackZoneAvailable", "Unable to allocate a conntrack zone: all %d are in use.", size)
}

// freeCTZone releases a zone (0: none was allocated).
func freeCTZone(tx *store.Tx, zone int) {
	if zone != 0 {
		tx.Delete(ctZoneKey(zone))
	}
}

// AllocateMissingCTZones gives a conntrack zone to every network and
// router stored without one (written before zones were allocated), one
// transaction each, so that agents, which leave such objects out of their
// views, serve them again. It returns how many it allocated; it is safe
// to run from several servers at once.
func (s *Server) AllocateMissingCTZones(ctx context.Context) (int, error) {
	done := 0
	nets, _, err := store.ListOf[model.Network](ctx, s.store, store.KindPrefix(store.KindNetworks))
	if err != nil {
		return 0, fmt.Errorf("conntrack zones: %w", err)
	}
	for _, n := range nets {
		if n.CTZone != 0 {
			continue
		}
		err := s.store.Txn(ctx, func(tx *store.Tx) error {
			var cur model.Network
			if ok, err := tx.Get(store.NetworkKey(n.ID), &cur); err != nil || !ok || cur.CTZone != 0 {
				return err
			}
			z, err := allocateCTZone(tx, cur.ID)
			if err != nil {
				return err
			}
			cur.CTZone = z
			return tx.Put(store.NetworkKey(cur.ID), &cur)
		})
		if err != nil {
			return done, fmt.Errorf("conntrack zone of network %s: %w", n.ID, err)
		}
		done++
	}
	routers, _, err := store.ListOf[routerRecord](ctx, s.store, store.KindPrefix(store.KindRouters))
	if err != nil {
		return done, fmt.Errorf("conntrack zones: %w", err)
	}
	for _, r := range routers {
		if r.CTZone != 0 {
			continue
		}
		err := s.store.Txn(ctx, func(tx *store.Tx) error {
			var cur routerRecord
			if ok, err := tx.Get(routerKey(r.ID), &cur); err != nil || !ok || cur.CTZone != 0 {
				return err
			}
			z, err := allocateCTZone(tx, cur.ID)
			if err != nil {
				return err
			}
			cur.CTZone = z
			return tx.Put(routerKey(cur.ID), &cur)
		})
		if err != nil {
			return done, fmt.Errorf("conntrack zone of router %s: %w", r.ID, err)
		}
		done++
	}
	return done, nil
}
