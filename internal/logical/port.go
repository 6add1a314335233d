package logical

import (
	"net"
	"net/netip"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// ConvertPort is a port's address part of the view: MAC, fixed IPs,
// allowed address pairs, port security and groups (without chassis,
// ofport and key, which depend on the chassis). ok is false if its MAC
// does not parse; unparsable addresses are left out.
func ConvertPort(netID string, p *model.Port) (vp pipeline.Port, ok bool) {
	mac, err := net.ParseMAC(p.MACAddress)
	if err != nil {
		return pipeline.Port{}, false
	}
	vp = pipeline.Port{ID: p.ID, NetworkID: netID, MAC: mac, PortSecurity: p.PortSecurityEnabled,
		SecurityGroups: p.SecurityGroups}
	for _, f := range p.FixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil {
			vp.IPs = append(vp.IPs, a)
		}
	}
	for _, ap := range p.AllowedAddressPairs {
		pr, ok := parsePrefixOrAddr(ap.IPAddress)
		if !ok {
			continue
		}
		var m net.HardwareAddr
		if ap.MACAddress != "" {
			m, _ = net.ParseMAC(ap.MACAddress)
		}
		vp.AllowedAddressPairs = append(vp.AllowedAddressPairs, pipeline.AddressPair{Prefix: pr, MAC: m})
	}
	return vp, true
}

// parsePrefixOrAddr parses a prefix, or an address as its full-length
// prefix.
func parsePrefixOrAddr(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// PortCache keeps each port's conversion, by port id, while its model
// pointer is the port's (an update replaces the pointer). The zero value
// is ready to use.
type PortCache struct {
	m map[string]cachedPort
}

type cachedPort struct {
	src  *model.Port
	ok   bool
	port pipeline.Port
}

// Convert is ConvertPort, from the cache when p was converted before.
func (c *PortCache) Convert(netID string, p *model.Port) (pipeline.Port, bool) {
	if e, ok := c.m[p.ID]; ok && e.src == p {
		return e.port, e.ok
	}
	vp, ok := ConvertPort(netID, p)
	if c.m == nil {
		c.m = map[string]cachedPort{}
	}
	c.m[p.ID] = cachedPort{src: p, ok: ok, port: vp}
	return vp, ok
}

// Forget drops a port's conversion.
func (c *PortCache) Forget(id string) { delete(c.m, id) }

// Reset drops every conversion.
func (c *PortCache) Reset() { c.m = nil }
