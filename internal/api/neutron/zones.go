package neutron

import (
	"math/rand/v2"
	"strconv"

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
