package pipeline

import (
	"net"
	"net/netip"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// MetadataPort is the chassis' metadata service: an internal port of
// br-int whose kernel interface holds MetadataIP, where the agent serves
// HTTP. Each local port's requests to MetadataIP:80 reach it with the
// port's own link-local source (MetadataSource), which names the port to
// the agent; the replies are translated back (metadataUnit).
type MetadataPort struct {
	OFPort uint32
	MAC    net.HardwareAddr
}

// MetadataIP is the metadata service's address, as Nova and Neutron have
// it.
var MetadataIP = netip.MustParseAddr("169.254.169.254")

// MetadataSources holds the local ports' metadata sources: 169.254.1.0
// + the port's key, up to 169.254.126.255 (clear of MetadataIP, and of
// the first and last /24, which RFC 3927 reserves).
var MetadataSources = netip.MustParsePrefix("169.254.0.0/17")

// metadataKeys bounds the keys with a metadata source.
const metadataKeys = 126 << 8

// MetadataSource is the source a local port's metadata requests carry on
// the metadata port; false when its key has none.
func MetadataSource(key uint32) (netip.Addr, bool) {
	if key == 0 || key >= metadataKeys {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{169, 254, byte(1 + key>>8), byte(key)}), true
}

// MetadataKey is the port key of a metadata source; false when a is none.
func MetadataKey(a netip.Addr) (uint32, bool) {
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	if b[0] != 169 || b[1] != 254 || b[2] < 1 || b[2] > 126 {
		return 0, false
	}
	k := uint32(b[2]-1)<<8 | uint32(b[3])
	return k, k != 0
}

// Priorities of the metadata flows.
const (
	prioMetadata = 120 // in Services, above the ARP and DHCP responders
)

// metadataUnit compiles the "metadata" section: with a metadata port, for
// every local port with an IPv4 address, its TCP to MetadataIP:80 goes
// (Services) to the metadata port with the port's MetadataSource, and the
// replies (Classify, from the metadata port) back to the port with its
// address; Neighbour answers ARP for MetadataIP with the port's MAC on
// every network with local ports, so that VMs without a router reach it
// on link.
type metadataUnit struct{}

func (metadataUnit) sections(x *index, s *sectionList) {
	m := x.v.Metadata
	h := x.hasher("metadata")
	h.bool(m != nil)
	if m != nil {
		h.u64(uint64(m.OFPort))
		h.bytes(m.MAC)
		for _, n := range x.nets {
			h.u64(x.netHash[n])
		}
	}
	if e := s.next("metadata", h.Sum64(), 4*len(x.nets)); e != nil && m != nil && m.OFPort != 0 && len(m.MAC) == 6 {
		metadataFlows(x, e, m)
	}
}

func metadataFlows(x *index, e *emitter, m *MetadataPort) {
	ip4 := ofp.EthType(ofp.EthTypeIPv4)
	dst := netip.PrefixFrom(MetadataIP, 32)
	for _, n := range x.nets {
		if !x.v4[n.Key][MetadataIP] {
			neighbour(e, n.Key, MetadataIP, m.MAC)
		}
		for _, p := range n.local {
			var addr netip.Addr
			for _, a := range p.IPs {
				if a.Is4() {
					addr = a
					break
				}
			}
			src, ok := MetadataSource(p.Key)
			if !addr.IsValid() || !ok {
				continue
			}
			e.add(TableServices, prioMetadata, FeatureL3, []ofp.Field{
				InPortKeyField.Match(p.Key), NetworkKeyField.Match(n.Key), ip4, ofp.IPProto(ofp.ProtoTCP),
				ofp.IPDst(dst), ofp.TCPDst(80, 0),
			},
				ofp.SetField{Field: ofp.EthDst(m.MAC)},
				ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(src, 32))},
				ofp.Output{Port: m.OFPort})
			e.add(TableClassify, prioClassify, FeatureL3, []ofp.Field{
				ofp.InPort(m.OFPort), ip4, ofp.IPDst(netip.PrefixFrom(src, 32)),
			},
				ofp.SetField{Field: ofp.EthSrc(m.MAC)},
				ofp.SetField{Field: ofp.EthDst(p.mac)},
				ofp.SetField{Field: ofp.IPDst(netip.PrefixFrom(addr, 32))},
				ofp.Output{Port: p.OFPort})
		}
	}
}
