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

// MetadataIP and MetadataIP6 are the metadata service's addresses, as
// Nova and Neutron have them (the IPv6 one link-local).
var (
	MetadataIP  = netip.MustParseAddr("169.254.169.254")
	MetadataIP6 = netip.MustParseAddr("fe80::a9fe:a9fe")
)

// MetadataSources6 holds the local ports' IPv6 metadata sources: the
// prefix + the port's key (a unique local prefix of Wyvern's own).
var MetadataSources6 = netip.MustParsePrefix("fd57:7976:6d65::/64")

// MetadataSource6 is the source a local port's IPv6 metadata requests
// carry on the metadata port; false when its key has none.
func MetadataSource6(key uint32) (netip.Addr, bool) {
	if key == 0 {
		return netip.Addr{}, false
	}
	b := MetadataSources6.Addr().As16()
	b[12], b[13], b[14], b[15] = byte(key>>24), byte(key>>16), byte(key>>8), byte(key)
	return netip.AddrFrom16(b), true
}

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

// MetadataKey6 is the port key of an IPv6 metadata source.
func MetadataKey6(a netip.Addr) (uint32, bool) {
	if !a.Is6() || a.Is4In6() || !MetadataSources6.Contains(a) {
		return 0, false
	}
	b := a.As16()
	if b[8]|b[9]|b[10]|b[11] != 0 {
		return 0, false
	}
	k := uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15])
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
		if x.cfg.NDResponder && !n.owns(MetadataIP6) {
			metadata6(e, n, m)
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

// metadata6 serves fe80::a9fe:a9fe on the network: neighbour
// advertisements for it with the metadata port's MAC, and each local
// port's TCP to it on port 80 to the metadata port with its
// MetadataSource6, the replies back to the port's EUI-64 link-local
// address (the one a VM reaching a link-local service sends from).
func metadata6(e *emitter, n *netState, m *MetadataPort) {
	ip6 := ofp.EthType(ofp.EthTypeIPv6)
	ndAnswer(e, n.Key, MetadataIP6, m.MAC)
	for _, p := range n.local {
		src, ok := MetadataSource6(p.Key)
		if !ok {
			continue
		}
		e.add(TableServices, prioMetadata, FeatureL3, []ofp.Field{
			InPortKeyField.Match(p.Key), NetworkKeyField.Match(n.Key), ip6, ofp.IPProto(ofp.ProtoTCP),
			ofp.IPDst(netip.PrefixFrom(MetadataIP6, 128)), ofp.TCPDst(80, 0),
		},
			ofp.SetField{Field: ofp.EthDst(m.MAC)},
			ofp.SetField{Field: ofp.IPSrc(netip.PrefixFrom(src, 128))},
			ofp.Output{Port: m.OFPort})
		e.add(TableClassify, prioClassify, FeatureL3, []ofp.Field{
			ofp.InPort(m.OFPort), ip6, ofp.IPDst(netip.PrefixFrom(src, 128)),
		},
			ofp.SetField{Field: ofp.EthSrc(m.MAC)},
			ofp.SetField{Field: ofp.EthDst(p.mac)},
			ofp.SetField{Field: ofp.IPDst(netip.PrefixFrom(LinkLocal(p.mac), 128))},
			ofp.Output{Port: p.OFPort})
	}
}
