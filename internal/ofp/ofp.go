// Package ofp describes OpenFlow flows as plain Go values: matches, actions,
// cookies. It renders them as ovs-ofctl text (for golden files, traces and
// diffs) and is what the pipeline compiler produces and the OVS layer
// encodes onto the wire. It knows nothing of Wyvern's logical model and does
// no I/O.
package ofp

import (
	"net"
	"net/netip"
	"sort"
	"strings"
)

// Flow is one OpenFlow flow entry.
type Flow struct {
	Table    uint8
	Priority uint16
	Cookie   uint64
	Match    []Field
	Actions  []Action
}

// Key identifies a flow within a bridge: OpenFlow treats two flows with the
// same table, priority and match as the same entry.
func (f Flow) Key() string {
	var buf [256]byte
	return string(f.appendKey(buf[:0]))
}

// String renders the flow as ovs-ofctl add-flow text, without the cookie.
func (f Flow) String() string {
	_, text := f.KeyText()
	return text
}

// KeyText returns Key and String at the cost of one rendering: the key is
// a prefix of the text.
func (f Flow) KeyText() (key, text string) {
	var buf [512]byte
	b := f.appendKey(buf[:0])
	n := len(b)
	b = append(b, " actions="...)
	text = string(appendActions(b, f.Actions))
	return text[:n], text
}

// Equal reports whether two flows have the same key, cookie and actions.
func (f Flow) Equal(g Flow) bool {
	return f.Cookie == g.Cookie && f.String() == g.String()
}

func sortedMatch(m []Field) []Field {
	s := append([]Field(nil), m...)
	sort.SliceStable(s, func(i, j int) bool {
		return s[i].Kind < s[j].Kind || (s[i].Kind == s[j].Kind && s[i].Index < s[j].Index)
	})
	return s
}

// Sort orders flows by table, descending priority, then text: the order of
// golden files. Each flow's text is rendered at most once.
func Sort(fs []Flow) {
	type item struct {
		f    Flow
		text string
		done bool
	}
	items := make([]item, len(fs))
	for i := range fs {
		items[i].f = fs[i]
	}
	text := func(it *item) string {
		if !it.done {
			it.text, it.done = it.f.String(), true
		}
		return it.text
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := &items[i], &items[j]
		if a.f.Table != b.f.Table {
			return a.f.Table < b.f.Table
		}
		if a.f.Priority != b.f.Priority {
			return a.f.Priority > b.f.Priority
		}
		return text(a) < text(b)
	})
	for i := range items {
		fs[i] = items[i].f
	}
}

// Text renders flows one per line in Sort order.
func Text(fs []Flow) string {
	s := append([]Flow(nil), fs...)
	Sort(s)
	var b strings.Builder
	for _, f := range s {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// FieldKind names a match or set-field field. The order is the rendering
// order inside a match.
type FieldKind int

// Fields Wyvern matches on or sets. Names in comments are ovs-ofctl's.
const (
	FInPort     FieldKind = iota // in_port (OpenFlow port number)
	FMetadata                    // metadata
	FReg                         // reg<Index> (NXM_NX_REG0..15), 32 bits
	FTunID                       // tun_id
	FTunIPv4Dst                  // tun_dst (set only)
	FCTState                     // ct_state, Value/Mask of CTState bits
	FCTZone                      // ct_zone
	FCTMark                      // ct_mark
	FEthSrc                      // dl_src
	FEthDst                      // dl_dst
	FEthType                     // dl_type
	FARPOp                       // arp_op
	FARPSPA                      // arp_spa
	FARPTPA                      // arp_tpa
	FARPSHA                      // arp_sha
	FARPTHA                      // arp_tha
	FIPProto                     // nw_proto
	FIPv4Src                     // nw_src
	FIPv4Dst                     // nw_dst
	FIPv6Src                     // ipv6_src
	FIPv6Dst                     // ipv6_dst
	FIPTTL                       // nw_ttl (match only, as a guard)
	FTCPSrc                      // tcp_src
	FTCPDst                      // tcp_dst
	FUDPSrc                      // udp_src
	FUDPDst                      // udp_dst
	FICMPType                    // icmp_type
	FICMPCode                    // icmp_code
	FICMPv6Type                  // icmpv6_type
	FICMPv6Code                  // icmpv6_code
	FNDTarget                    // nd_target
	FNDSLL                       // nd_sll
	FNDTLL                       // nd_tll
)

// ND header fields OVS exposes as Ericsson experimenter OXMs (OpenFlow 1.3
// set_field works with them); used to turn a solicitation into an
// advertisement.
const (
	FNDReserved    FieldKind = FNDTLL + 1 + iota // nd_reserved (NA flags R|S|O in the top bits)
	FNDOptionsType                               // nd_options_type (type of the first ND option)
)

// FConjID is conj_id (NXM_NX_CONJ_ID, match only): the id of the
// conjunctive match (Conjunction actions) a packet completed.
const FConjID FieldKind = FNDOptionsType + 1

// FVLANVID is vlan_vid (OXM_OF_VLAN_VID): the 802.1Q VLAN id with
// OFPVID_PRESENT (VLANPresent) set when the frame has a tag; Value 0 with
// no mask matches untagged frames, VLANPresent/VLANPresent any tagged one.
// Set with the present bit after a PushVLAN.
const FVLANVID FieldKind = FConjID + 1

// VLANPresent is OFPVID_PRESENT, the bit of vlan_vid saying a tag is there.
const VLANPresent = 0x1000

// FIPDSCP is ip_dscp: the DSCP (the top six bits of the IPv4 TOS or the
// IPv6 traffic class), as a value 0..63; set with a set-field on a flow
// matching IPv4 or IPv6.
const FIPDSCP FieldKind = FVLANVID + 1

var fieldNames = map[FieldKind]string{
	FInPort: "in_port", FMetadata: "metadata", FReg: "reg", FTunID: "tun_id", FTunIPv4Dst: "tun_dst",
	FCTState: "ct_state", FCTZone: "ct_zone", FCTMark: "ct_mark",
	FEthSrc: "dl_src", FEthDst: "dl_dst", FEthType: "dl_type",
	FARPOp: "arp_op", FARPSPA: "arp_spa", FARPTPA: "arp_tpa", FARPSHA: "arp_sha", FARPTHA: "arp_tha",
	FIPProto: "nw_proto", FIPv4Src: "nw_src", FIPv4Dst: "nw_dst", FIPv6Src: "ipv6_src", FIPv6Dst: "ipv6_dst",
	FIPTTL: "nw_ttl", FTCPSrc: "tcp_src", FTCPDst: "tcp_dst", FUDPSrc: "udp_src", FUDPDst: "udp_dst",
	FICMPType: "icmp_type", FICMPCode: "icmp_code", FICMPv6Type: "icmpv6_type", FICMPv6Code: "icmpv6_code",
	FNDTarget: "nd_target", FNDSLL: "nd_sll", FNDTLL: "nd_tll",
	FNDReserved: "nd_reserved", FNDOptionsType: "nd_options_type", FConjID: "conj_id",
	FVLANVID: "vlan_vid",
	FIPDSCP:  "ip_dscp",
}

// fieldNameList is fieldNames indexed by kind, for rendering.
var fieldNameList = func() []string {
	var n FieldKind
	for k := range fieldNames {
		n = max(n, k+1)
	}
	l := make([]string, n)
	for k, v := range fieldNames {
		if k >= 0 {
			l[k] = v
		}
	}
	return l
}()

// Name is the ovs-ofctl name of the field.
func (k FieldKind) Name() string {
	if k >= 0 && int(k) < len(fieldNameList) {
		return fieldNameList[k]
	}
	return ""
}

// Field is one match (or set-field) value. Exactly one of the value forms
// is used, according to Kind: Value/Mask for numbers (Mask 0 = exact), MAC
// for Ethernet addresses (MACMask nil = exact), Prefix for IP addresses
// (a full-length prefix = exact).
type Field struct {
	Kind    FieldKind
	Index   int // register number for FReg
	Value   uint64
	Mask    uint64
	MAC     net.HardwareAddr
	MACMask net.HardwareAddr
	Prefix  netip.Prefix
}

// String renders name=value[/mask] as ovs-ofctl does.
func (f Field) String() string {
	var buf [64]byte
	return string(f.appendText(buf[:0]))
}

// Connection tracking state bits (ct_state).
const (
	CTNew  uint32 = 0x01
	CTEst  uint32 = 0x02
	CTRel  uint32 = 0x04
	CTRpl  uint32 = 0x08
	CTInv  uint32 = 0x10
	CTTrk  uint32 = 0x20
	CTSNAT uint32 = 0x40
	CTDNAT uint32 = 0x80
)

// Match constructors.

// InPort matches the OpenFlow ingress port.
func InPort(p uint32) Field { return Field{Kind: FInPort, Value: uint64(p)} }

// Reg matches register i exactly.
func Reg(i int, v uint32) Field { return Field{Kind: FReg, Index: i, Value: uint64(v)} }

// RegMasked matches the bits of register i selected by mask.
func RegMasked(i int, v, mask uint32) Field {
	return Field{Kind: FReg, Index: i, Value: uint64(v), Mask: uint64(mask)}
}

// Metadata matches the metadata field under mask (0: exact).
func Metadata(v, mask uint64) Field { return Field{Kind: FMetadata, Value: v, Mask: mask} }

// TunID matches the tunnel key.
func TunID(id uint64) Field { return Field{Kind: FTunID, Value: id} }

// CTState matches connection tracking state bits under mask.
func CTState(v, mask uint32) Field {
	return Field{Kind: FCTState, Value: uint64(v), Mask: uint64(mask)}
}

// CTZone matches the conntrack zone.
func CTZone(z uint16) Field { return Field{Kind: FCTZone, Value: uint64(z)} }

// CTMark matches the conntrack mark under mask (0: exact).
func CTMark(v, mask uint32) Field { return Field{Kind: FCTMark, Value: uint64(v), Mask: uint64(mask)} }

// EthSrc matches the source MAC.
func EthSrc(m net.HardwareAddr) Field { return Field{Kind: FEthSrc, MAC: m} }

// EthDst matches the destination MAC.
func EthDst(m net.HardwareAddr) Field { return Field{Kind: FEthDst, MAC: m} }

// EthDstMasked matches destination MAC bits (e.g. the multicast bit).
func EthDstMasked(m, mask net.HardwareAddr) Field { return Field{Kind: FEthDst, MAC: m, MACMask: mask} }

// Ethernet types.
const (
	EthTypeIPv4 = 0x0800
	EthTypeARP  = 0x0806
	EthTypeIPv6 = 0x86dd
)

// EthType matches the Ethernet type.
func EthType(t uint16) Field { return Field{Kind: FEthType, Value: uint64(t)} }

// ARPOp matches the ARP opcode (1 request, 2 reply).
func ARPOp(op uint16) Field { return Field{Kind: FARPOp, Value: uint64(op)} }

// ARPSPA matches the ARP sender protocol address.
func ARPSPA(p netip.Prefix) Field { return Field{Kind: FARPSPA, Prefix: p} }

// ARPTPA matches the ARP target protocol address.
func ARPTPA(p netip.Prefix) Field { return Field{Kind: FARPTPA, Prefix: p} }

// ARPSHA matches the ARP sender hardware address.
func ARPSHA(m net.HardwareAddr) Field { return Field{Kind: FARPSHA, MAC: m} }

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// IPProto matches the IP protocol.
func IPProto(p uint8) Field { return Field{Kind: FIPProto, Value: uint64(p)} }

// IPSrc matches the IPv4 or IPv6 source prefix.
func IPSrc(p netip.Prefix) Field {
	if p.Addr().Is4() {
		return Field{Kind: FIPv4Src, Prefix: p}
	}
	return Field{Kind: FIPv6Src, Prefix: p}
}

// IPDst matches the IPv4 or IPv6 destination prefix.
func IPDst(p netip.Prefix) Field {
	if p.Addr().Is4() {
		return Field{Kind: FIPv4Dst, Prefix: p}
	}
	return Field{Kind: FIPv6Dst, Prefix: p}
}

// TCPDst matches the TCP destination port under mask (0: exact).
func TCPDst(port, mask uint16) Field {
	return Field{Kind: FTCPDst, Value: uint64(port), Mask: uint64(mask)}
}

// TCPSrc matches the TCP source port under mask (0: exact).
func TCPSrc(port, mask uint16) Field {
	return Field{Kind: FTCPSrc, Value: uint64(port), Mask: uint64(mask)}
}

// UDPDst matches the UDP destination port under mask (0: exact).
func UDPDst(port, mask uint16) Field {
	return Field{Kind: FUDPDst, Value: uint64(port), Mask: uint64(mask)}
}

// UDPSrc matches the UDP source port under mask (0: exact).
func UDPSrc(port, mask uint16) Field {
	return Field{Kind: FUDPSrc, Value: uint64(port), Mask: uint64(mask)}
}

// ICMPType matches the ICMPv4 type.
func ICMPType(t uint8) Field { return Field{Kind: FICMPType, Value: uint64(t)} }

// ICMPCode matches the ICMPv4 code.
func ICMPCode(c uint8) Field { return Field{Kind: FICMPCode, Value: uint64(c)} }

// ConjID matches the id of a completed conjunctive match.
func ConjID(id uint32) Field { return Field{Kind: FConjID, Value: uint64(id)} }

// ICMPv6Type matches the ICMPv6 type.
func ICMPv6Type(t uint8) Field { return Field{Kind: FICMPv6Type, Value: uint64(t)} }

// NDTarget matches the IPv6 neighbour discovery target.
func NDTarget(a netip.Addr) Field { return Field{Kind: FNDTarget, Prefix: netip.PrefixFrom(a, 128)} }
