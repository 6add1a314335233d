package pipeline

// Conntrack zones. Every network (its security groups, both directions)
// and every router (its NAT) has its own zone, the same on every chassis.
// The API allocates them from one pool, ZoneMin..ZoneMax, in the
// transaction that creates the network or router (model.Network.CTZone,
// model.RouterRecord.CTZone), so two objects never share a zone, whatever
// their type or segmentation id. Zone 0 is OVS's default zone (traffic
// outside any ct action) and is never allocated: in a View it means "not
// set", for which NetworkZone and RouterZone give the fallbacks of views
// built by hand (tests), which View.Validate checks for collisions.
const (
	ZoneMin = 1
	ZoneMax = 0xffff
)

// NetworkZone is the conntrack zone of a network's security groups:
// CTZone, or the low 16 bits of its key when CTZone is 0.
func NetworkZone(n *Network) uint16 {
	if n.CTZone != 0 {
		return n.CTZone
	}
	return uint16(n.Key)
}

// RouterZone is the conntrack zone of a router's NAT: CTZone, or
// 0xf000|(Key&0x0fff) when CTZone is 0.
func RouterZone(r *Router) uint16 {
	if r.CTZone != 0 {
		return r.CTZone
	}
	return 0xf000 | uint16(r.Key&0x0fff)
}
