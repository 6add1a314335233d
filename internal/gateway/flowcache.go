package gateway

import (
	"bytes"
	"fmt"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

// digested is a flow with its cookie stamped and its digest.
type digested struct {
	flow ofp.Flow
	d    ovs.Digest
}

// flowCache keeps each floating IP's compiled and digested flows from one
// sync to the next: an association changes one floating IP, and a sync
// then compiles and encodes that one's flows, not the thousand others'.
// What it returns is always Compile's output (TestFlowCacheIsCompile).
type flowCache struct {
	ports   Ports  // what the entries were compiled for
	gen     uint32 // the cookie generation they carry
	entries map[cacheKey]cacheEntry
	buf     []byte // scratch for digests
}

type cacheKey struct {
	id      string
	inbound bool
}

type cacheEntry struct {
	fip   FIP
	flows []digested
}

// flows returns Compile(v, p) digested under generation gen's cookie.
func (c *flowCache) flows(v *View, p Ports, gen uint32) ([]digested, error) {
	if c.entries == nil || gen != c.gen || !samePorts(p, c.ports) {
		c.entries = map[cacheKey]cacheEntry{}
		c.gen, c.ports = gen, p
	}
	out := make([]digested, 0, 2*(len(v.FIPs)+len(v.Outbound))+8)
	var err error
	if out, err = c.digest(out, compileFixed(p)); err != nil {
		return nil, err
	}
	next := make(map[cacheKey]cacheEntry, len(c.entries))
	add := func(f FIP, inbound bool) error {
		k := cacheKey{f.ID, inbound}
		e, ok := c.entries[k]
		if !ok || !sameFIP(e.fip, f) {
			e = cacheEntry{fip: f}
			if e.flows, err = c.digest(nil, compileFIP(f, p, inbound)); err != nil {
				return err
			}
		}
		next[k] = e
		out = append(out, e.flows...)
		return nil
	}
	for _, f := range v.FIPs {
		if err := add(f, true); err != nil {
			return nil, err
		}
	}
	for _, f := range v.Outbound {
		if err := add(f, false); err != nil {
			return nil, err
		}
	}
	c.entries = next
	return out, nil
}

func (c *flowCache) digest(out []digested, flows []ofp.Flow) ([]digested, error) {
	for _, f := range flows {
		f.Cookie = cookie(c.gen)
		var d ovs.Digest
		var err error
		if d, c.buf, err = ovs.FlowDigest(c.buf, f); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		out = append(out, digested{flow: f, d: d})
	}
	return out, nil
}

func sameFIP(a, b FIP) bool {
	return a.ID == b.ID && a.FloatingIP == b.FloatingIP && a.FixedIP == b.FixedIP &&
		bytes.Equal(a.VMMAC, b.VMMAC) && bytes.Equal(a.RouterMAC, b.RouterMAC) && a.Encap == b.Encap &&
		a.TunnelKey == b.TunnelKey && a.Chassis == b.Chassis && a.ChassisIP == b.ChassisIP && a.ChassisMAC == b.ChassisMAC
}

func samePorts(a, b Ports) bool {
	return a.Uplink == b.Uplink && a.Geneve == b.Geneve && a.VXLAN == b.VXLAN &&
		bytes.Equal(a.UplinkMAC, b.UplinkMAC) && bytes.Equal(a.UpstreamMAC, b.UpstreamMAC)
}
