package pipeline

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// =====================================================================// Registers. Every bit the pipeline uses is declared here, once.
//
//	reg0[0..3]   PktSourceField  where the packet entered br-int:
//	                             0 unset (never seen after Classify),
//	                             1 PktSourceLocal  (a local VM interface),
//	                             2 PktSourceTunnel (geneve0 or vxlan0).
//	             Traffic from an external network's bridge port also
//	             counts as local: it entered the overlay here.
//	reg0[4..5]   VMPortField     set by Classify for a local VM interface
//	                             only (bit 4 set: FromVMField):
//	                             0 not a VM port (tunnel, external bridge),
//	                             1 VMPortSecured: port security on, and
//	                               Classify matched eth_src against the
//	                               port's MACs (source MAC verified),
//	                             3 VMPortUnsecured: port security off.
//	reg0[6..31]  free.
//	reg1, reg2   free.
//	reg3         the ACL word of a local port whose security groups are
//	             enforced (port security on, View.SecurityGroupsEnabled),
//	             loaded as a whole (aclWord) where the port is already
//	             matched: for egress by the port's in_port flow in
//	             Classify; for ingress by every local delivery (L2Lookup
//	             unicast and flood, L3Route to a local port), which loads
//	             0 for a port not enforced, clearing the sender's word.
//	             Nothing from IngressACL on writes reg3, so a flood loads
//	             a word only when it differs from the previous port's.
//	reg3[0..15]  ACLZoneField    conntrack zone of the security groups (the
//	                             zone of the port's network, View
//	                             Network.CTZone), used by ct and read back
//	                             by ct(commit) after recirculation. Network
//	                             keys are 32 bits wide (VNI-derived), so
//	                             reg6 cannot be the zone.
//	reg3[16..30] ACLGroupField   key of the port's security group when it is
//	                             in exactly one (known) group: the group's
//	                             rules match it, once for every such port;
//	                             0 when the port is in none or several, whose
//	                             rules then match the port itself (reg5 or
//	                             reg7).
//	reg3[31]     ACLTrackField   1: the port's security groups are enforced;
//	                             its IP traffic goes through conntrack
//	                             (EgressACL, IngressACL). 0: not tracked.
//	reg4         free.
//	reg5         InPortKeyField  logical input port key (View Port.Key) of a
//	                             local VM port; 0 for tunnel traffic, whose
//	                             logical input port is remote.
//	reg6         NetworkKeyField network datapath key (View Network.Key),
//	                             set by Classify for every packet that passes.
//	reg7         OutPortField    OpenFlow port the packet leaves by, set by
//	                             L2Lookup: a local VM ofport, or a tunnel
//	                             ofport with tun_id/tun_dst already set.
//	reg8..reg10  free.
//	reg11[0..16] MeterLabelField  the metering label being counted (its key,
//	                              bits 0..15) and the direction (bit 16:
//	                              1 egress), loaded by MeterIn/MeterOut
//	                              for MeterCount (metering.go).
//	reg12        NeighbourIPField      IPv4 address to look up in Neighbour
//	                                   (with the network in reg6): ARP's
//	                                   arp_tpa (Services) or a routed
//	                                   packet's nw_dst (L3Route), moved here
//	                                   just before resubmit(,Neighbour).
//	reg13        NeighbourMACLowField  bits 0..31 of the MAC Neighbour found.
//	reg14[0..15] NeighbourMACHighField bits 32..47 of that MAC.
//	reg14[16]    NeighbourFoundField   1: Neighbour knew the address; 0 (and
//	                                   a zero MAC): it did not.
//	reg14[17..31], reg15 free.
//	metadata     RouterKeyField  router datapath key (View Router.Key), set by
//	                             L2Lookup when a packet is addressed to a
//	                             router port's MAC and matched by every L3
//	                             table. 0 until then: L2Lookup only hands
//	                             packets with metadata 0 to a router, so a
//	                             routed packet, which L3Route sends back
//	                             through L2Lookup for delivery, is routed at
//	                             most once on a chassis.
//
// Conntrack zones: a network's security groups use Network.CTZone (both
// directions, on every chassis); a router's NAT uses Router.CTZone. Zones
// are constants in the flows; only the ACL zone travels in reg3.
// =====================================================================
// RegField is a run of bits in one NXM register.
type RegField struct {
	Name        string
	Reg         int
	Start, Bits int
}

// Register fields of the pipeline (see the layout above). Each is declared
// with newRegField, or newRegAlias for bits of another field named on
// purpose, so that regFields lists them all: TestRegFields checks that no
// two overlap unless one is declared an alias of the other, and that each
// fits its register.
var (
	PktSourceField  = newRegField("PktSource", 0, 0, 4)
	InPortKeyField  = newRegField("InPortKey", 5, 0, 32)
	NetworkKeyField = newRegField("NetworkKey", 6, 0, 32)
	OutPortField    = newRegField("OutPort", 7, 0, 32)
	ACLZoneField    = newRegField("ACLZone", 3, 0, 16)
	ACLGroupField   = newRegField("ACLGroup", 3, 16, 15)
	ACLTrackField   = newRegField("ACLTrack", 3, 31, 1)
	VMPortField     = newRegField("VMPort", 0, 4, 2)
	// FromVMField is bit 4, the low bit of VMPortField: 1 for every packet
	// from a local VM interface, whatever its port security (an alias).
	FromVMField = newRegAlias("FromVM", VMPortField, 0, 1)

	MeterLabelField       = newRegField("MeterLabel", 11, 0, 17)
	NeighbourIPField      = newRegField("NeighbourIP", 12, 0, 32)
	NeighbourMACLowField  = newRegField("NeighbourMACLow", 13, 0, 32)
	NeighbourMACHighField = newRegField("NeighbourMACHigh", 14, 0, 16)
	NeighbourFoundField   = newRegField("NeighbourFound", 14, 16, 1)
)

// regFields are the register fields declared, in declaration order.
var regFields []RegField

// regAliases maps the name of a field declared by newRegAlias to the name
// of the field whose bits it names.
var regAliases = map[string]string{}

// newRegField declares a register field.
func newRegField(name string, reg, start, bits int) RegField {
	f := RegField{Name: name, Reg: reg, Start: start, Bits: bits}
	regFields = append(regFields, f)
	return f
}

// newRegAlias declares a field naming bits [start, start+bits) of field
// of: the only way two fields may overlap.
func newRegAlias(name string, of RegField, start, bits int) RegField {
	regAliases[name] = of.Name
	return newRegField(name, of.Reg, of.Start+start, bits)
}

// Values of VMPortField.
const (
	VMPortSecured   = 1
	VMPortUnsecured = 3
)

// NeighbourLoad writes mac into NeighbourMACLowField and
// NeighbourMACHighField and sets NeighbourFoundField, in two loads.
func NeighbourLoad(mac net.HardwareAddr) [2]ofp.Action {
	var v uint64
	for _, b := range mac {
		v = v<<8 | uint64(b)
	}
	return [2]ofp.Action{NeighbourMACLowField.Load(uint32(v)), neighbourHighFound(1<<NeighbourMACHighField.Bits | v>>32)}
}

// NeighbourClear zeroes the MAC and NeighbourFoundField: a lookup that
// found nothing.
func NeighbourClear() [2]ofp.Action {
	return [2]ofp.Action{NeighbourMACLowField.Load(0), neighbourHighFound(0)}
}

// neighbourHighFound loads NeighbourMACHighField and NeighbourFoundField,
// adjacent bits of one register, at once.
func neighbourHighFound(v uint64) ofp.Action {
	return ofp.Load{Reg: NeighbourFoundField.Reg, Start: NeighbourMACHighField.Start,
		Bits: NeighbourMACHighField.Bits + NeighbourFoundField.Bits, Value: v}
}

// NeighbourMACTo copies the MAC Neighbour found into a 48-bit field
// (ofp.FEthSrc, ofp.FEthDst, ofp.FARPSHA...).
func NeighbourMACTo(kind ofp.FieldKind) [2]ofp.Action {
	return [2]ofp.Action{
		ofp.Move{Src: NeighbourMACLowField.Ref(), Dst: ofp.FieldRef{Kind: kind, Start: 0, Bits: 32}},
		ofp.Move{Src: NeighbourMACHighField.Ref(), Dst: ofp.FieldRef{Kind: kind, Start: 32, Bits: 16}},
	}
}

// RouterKeyMatch matches the router datapath key in metadata.
func RouterKeyMatch(key uint32) ofp.Field { return ofp.Metadata(uint64(key), 0) }

// RouterKeyLoad writes the router datapath key into metadata.
func RouterKeyLoad(key uint32) ofp.Action {
	return ofp.SetField{Field: ofp.Field{Kind: ofp.FMetadata, Value: uint64(key)}}
}

// Values of PktSourceField.
const (
	PktSourceLocal  = 1
	PktSourceTunnel = 2
)

// Match matches the field's bits against v.
func (f RegField) Match(v uint32) ofp.Field {
	if f.Start == 0 && f.Bits == 32 {
		return ofp.Reg(f.Reg, v)
	}
	mask := uint32((uint64(1)<<f.Bits - 1) << f.Start)
	return ofp.RegMasked(f.Reg, v<<f.Start&mask, mask)
}

// Ref names the field's bits as the source or destination of a move.
func (f RegField) Ref() ofp.FieldRef {
	if f.Start == 0 && f.Bits == 32 {
		return ofp.FieldRef{Kind: ofp.FReg, Index: f.Reg}
	}
	return ofp.FieldRef{Kind: ofp.FReg, Index: f.Reg, Start: f.Start, Bits: f.Bits}
}

// Load writes v into the field's bits.
func (f RegField) Load(v uint32) ofp.Action {
	return ofp.Load{Reg: f.Reg, Start: f.Start, Bits: f.Bits, Value: uint64(v)}
}

// =====================================================================// Cookies. Every flow's cookie packs who owns it, the feature that made it
// and the generation (restart round) that installed it:
//
//	bits 56..63  CookieOwner (0x57, 'W'): a Wyvern flow; other flows on the
//	             bridge are never touched.
//	bits 48..55  Feature.
//	bits 32..47  zero, but for the counting flows of metering label rules
//	             (FeatureMetering, table MeterCount): the rule's key
//	             (CookieMeterRule).
//	bits  0..31  generation.
//
// After a restart the agent compiles with a new generation, installs (or
// modifies) every desired flow, then deletes the flows whose cookie, under
// CookieOwnerMask|CookieGenerationMask, is not CookieOwner|new generation.
// =====================================================================
// Cookie masks.
const (
	CookieOwner          uint64 = 0x57 << 56
	CookieOwnerMask      uint64 = 0xff << 56
	CookieFeatureMask    uint64 = 0xff << 48
	CookieGenerationMask uint64 = 0xffffffff
)

// Feature is a category of flows; every table is needed by some features.
// Values are stable (they are in installed cookies): append only.
type Feature uint8

// Features.
const (
	FeatureDefault      Feature = 1 // table-miss and pass-through flows
	FeatureClassify     Feature = 2
	FeaturePortSecurity Feature = 3
	FeatureACL          Feature = 4 // security groups
	FeatureARPResponder Feature = 5
	FeatureDHCP         Feature = 6
	FeatureL2           Feature = 7
	FeatureOutput       Feature = 8
	FeatureND           Feature = 9  // IPv6 ND responder
	FeatureL3           Feature = 10 // routing and NAT
	FeatureMetering     Feature = 11 // metering label counters
)

var featureNames = map[Feature]string{
	FeatureDefault: "default", FeatureClassify: "classify", FeaturePortSecurity: "port-security",
	FeatureACL: "acl", FeatureARPResponder: "arp-responder", FeatureDHCP: "dhcp", FeatureL2: "l2",
	FeatureOutput: "output", FeatureND: "nd", FeatureL3: "l3", FeatureMetering: "metering",
}

func (f Feature) String() string {
	if n, ok := featureNames[f]; ok {
		return n
	}
	return fmt.Sprintf("feature(%d)", uint8(f))
}

// Cookie packs a feature and a generation into a flow cookie.
func Cookie(f Feature, generation uint32) uint64 {
	return CookieOwner | uint64(f)<<48 | uint64(generation)
}

// CookieFeature extracts the feature of a Wyvern cookie.
func CookieFeature(c uint64) Feature { return Feature(c & CookieFeatureMask >> 48) }

// CookieGeneration extracts the generation of a Wyvern cookie.
func CookieGeneration(c uint64) uint32 { return uint32(c & CookieGenerationMask) }

// IsOwnCookie reports whether a cookie was made by Cookie.
func IsOwnCookie(c uint64) bool { return c&CookieOwnerMask == CookieOwner }

// IsStale reports whether a flow with cookie c is a Wyvern flow of another
// generation than current: what a sweep after a restart deletes.
func IsStale(c uint64, current uint32) bool {
	return IsOwnCookie(c) && CookieGeneration(c) != current
}

// =====================================================================// Packet-in user data. Controller actions carry 8 bytes, nothing secret:
//
//	byte 0     PacketInKind
//	bytes 1..3 zero
//	bytes 4..7 a key, big endian: for every kind the network key
//	           (the flow is shared by the network's ports)
//
// The controller must use the NXT_PACKET_IN2 format to receive userdata.
// The logical input port is not in the userdata: the controller reads it
// from InPortKeyField (reg5) in the packet-in's metadata.
// =====================================================================
// PacketInKind says why a packet was sent to the controller.
type PacketInKind uint8

// Packet-in kinds.
const (
	PacketInDHCPv4 PacketInKind = 1
	// PacketInRS is a router solicitation (key: the network key).
	PacketInRS PacketInKind = 2
	// PacketInDHCPv6 is a DHCPv6 client message (key: the network key).
	PacketInDHCPv6 PacketInKind = 3
)

// UserData encodes a packet-in's user data.
func UserData(kind PacketInKind, key uint32) []byte {
	b := make([]byte, 8)
	b[0] = byte(kind)
	binary.BigEndian.PutUint32(b[4:], key)
	return b
}

// ParseUserData decodes UserData's encoding.
func ParseUserData(b []byte) (PacketInKind, uint32, error) {
	if len(b) != 8 || b[1] != 0 || b[2] != 0 || b[3] != 0 {
		return 0, 0, fmt.Errorf("pipeline: bad packet-in userdata %x", b)
	}
	return PacketInKind(b[0]), binary.BigEndian.Uint32(b[4:]), nil
}
