package neutron

import (
	"context"
	"math/rand/v2"
	"net/netip"

	"github.com/wyvern-sdn/wyvern/internal/ipam"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// drawn holds random MACs and addresses drawn ahead for the ports of a
// bulk create, whose keys were read in one round trip: each allocation
// takes the next one as it would a random pick (claimed only if free, in
// the transaction), and picks at random again once they run out. Without
// them every port of a bulk costs two round trips of its own.
type drawn struct {
	macs []string
	ips  map[string][]netip.Addr // by subnet
}

type drawnKey struct{}

func withDrawn(ctx context.Context, d *drawn) context.Context {
	return context.WithValue(ctx, drawnKey{}, d)
}

// drawnMAC takes the next MAC drawn ahead, if any.
func drawnMAC(ctx context.Context) (string, bool) {
	d, _ := ctx.Value(drawnKey{}).(*drawn)
	if d == nil || len(d.macs) == 0 {
		return "", false
	}
	m := d.macs[0]
	d.macs = d.macs[1:]
	return m, true
}

// drawnIP takes the next address drawn ahead on subnet, if any.
func drawnIP(ctx context.Context, subnet string) (netip.Addr, bool) {
	d, _ := ctx.Value(drawnKey{}).(*drawn)
	if d == nil || len(d.ips[subnet]) == 0 {
		return netip.Addr{}, false
	}
	ip := d.ips[subnet][0]
	d.ips[subnet] = d.ips[subnet][1:]
	return ip, true
}

// drawFor draws n MACs and, on each IPv4 subnet of network netID that
// serves owner from pools too large to list, n addresses, and reads their
// keys (with the network's and its subnets') in two round trips inside tx.
func (s *Server) drawFor(ctx context.Context, tx *store.Tx, netID, owner string, n int) (context.Context, error) {
	d := &drawn{ips: map[string][]netip.Addr{}}
	var keys []string
	for range n {
		m, err := s.randomMAC()
		if err != nil {
			return ctx, err
		}
		d.macs = append(d.macs, m)
		keys = append(keys, store.MACKey(m))
	}
	net, err := loadNetwork(tx, netID)
	if err != nil || net == nil {
		return ctx, err
	}
	subKeys := make([]string, len(net.Subnets))
	for i, id := range net.Subnets {
		subKeys[i] = store.SubnetKey(net.ID, id)
	}
	tx.Prefetch(subKeys...)
	for _, id := range net.Subnets {
		sub, err := loadSubnetOn(tx, net.ID, id)
		if err != nil {
			return ctx, err
		}
		if sub == nil || sub.IPVersion != 4 || !servesOwner(sub, owner) {
			continue
		}
		_, pools, err := subnetPools(sub)
		if err != nil || ipam.Size(pools) <= smallPool {
			continue
		}
		for range n {
			ip := ipam.Random(pools, rand.Uint64)
			d.ips[sub.ID] = append(d.ips[sub.ID], ip)
			keys = append(keys, store.IPKey(sub.ID, ip.String()))
		}
	}
	tx.Prefetch(keys...)
	return withDrawn(ctx, d), nil
}
