package ofp

import "net/netip"

// Action is one OpenFlow action. The concrete types below are all there is;
// the OVS layer encodes each onto the wire.
type Action interface {
	String() string
	isAction()
}

// Output sends the packet to an OpenFlow port.
type Output struct{ Port uint32 }

// OutputInPort sends the packet back out of its ingress port (IN_PORT).
type OutputInPort struct{}

// OutputReg sends the packet to the port number held in a register.
type OutputReg struct{ Reg int }

// SetField writes a value into a header field or register (Field as in a
// match; a register is written whole).
type SetField struct{ Field Field }

// Load writes Value into bits [Start, Start+Bits) of register Reg.
type Load struct {
	Reg         int
	Start, Bits int
	Value       uint64
}

// FieldRef names bits of a field for Move: Bits 0 means the whole field.
type FieldRef struct {
	Kind        FieldKind
	Index       int // register number for FReg
	Start, Bits int
}

// Move copies bits between fields (NXM move).
type Move struct{ Src, Dst FieldRef }

// Resubmit continues processing in another table and returns.
type Resubmit struct{ Table uint8 }

// Goto continues processing in a later table (goto_table instruction). It
// must be the last action of a flow.
type Goto struct{ Table uint8 }

// NAT is the nat() clause of a ct action. A zero Addr means plain "nat":
// apply the NAT recorded for the connection.
type NAT struct {
	SNAT bool // source NAT; else destination NAT
	Addr netip.Addr
	// Port, with Addr, also translates the L4 port (TCP or UDP; the flow
	// must match the protocol): nat(dst=Addr:Port). 0: the port is kept.
	Port uint16
}

// CT sends the packet through connection tracking.
type CT struct {
	Commit bool
	// Zone is the conntrack zone; ZoneReg >= 0 takes it from bits 0..15 of
	// that register instead.
	Zone    uint16
	ZoneReg int
	// Table resubmits the packet after tracking; -1 means no recirculation.
	Table int
	NAT   *NAT
	// SetMark, when non-nil, sets ct_mark on commit.
	SetMark *uint32
}

// Controller sends the packet to the controller with the given id, with
// the whole packet (no buffering).
type Controller struct {
	ID       uint16
	Reason   uint8 // 0 no match, 1 action
	UserData []byte
}

// DecTTL decrements the IP TTL (hop limit), sending to the controller
// (dropping, in Wyvern's set-up) when it reaches zero.
type DecTTL struct{}

// Conjunction is one clause of a conjunctive match.
type Conjunction struct {
	ID        uint32
	Clause, N uint8
}

func (Output) isAction()       {}
func (OutputInPort) isAction() {}
func (OutputReg) isAction()    {}
func (SetField) isAction()     {}
func (Load) isAction()         {}
func (Move) isAction()         {}
func (Resubmit) isAction()     {}
func (Goto) isAction()         {}
func (CT) isAction()           {}
func (Controller) isAction()   {}
func (DecTTL) isAction()       {}
func (Conjunction) isAction()  {}

func (a Output) String() string       { return actionString(a) }
func (a OutputInPort) String() string { return "IN_PORT" }
func (a OutputReg) String() string    { return actionString(a) }
func (a SetField) String() string     { return actionString(a) }
func (a Load) String() string         { return actionString(a) }
func (a Move) String() string         { return actionString(a) }
func (a Resubmit) String() string     { return actionString(a) }
func (a Goto) String() string         { return actionString(a) }
func (a CT) String() string           { return actionString(a) }
func (a Controller) String() string   { return actionString(a) }
func (a DecTTL) String() string       { return "dec_ttl" }
func (a Conjunction) String() string  { return actionString(a) }

var nxmNames = map[FieldKind]string{
	FInPort: "NXM_OF_IN_PORT", FMetadata: "OXM_OF_METADATA", FTunID: "NXM_NX_TUN_ID", FTunIPv4Dst: "NXM_NX_TUN_IPV4_DST",
	FCTZone: "NXM_NX_CT_ZONE", FCTMark: "NXM_NX_CT_MARK",
	FEthSrc: "NXM_OF_ETH_SRC", FEthDst: "NXM_OF_ETH_DST", FEthType: "NXM_OF_ETH_TYPE",
	FARPOp: "NXM_OF_ARP_OP", FARPSPA: "NXM_OF_ARP_SPA", FARPTPA: "NXM_OF_ARP_TPA",
	FARPSHA: "NXM_NX_ARP_SHA", FARPTHA: "NXM_NX_ARP_THA",
	FIPv4Src: "NXM_OF_IP_SRC", FIPv4Dst: "NXM_OF_IP_DST", FIPv6Src: "NXM_NX_IPV6_SRC", FIPv6Dst: "NXM_NX_IPV6_DST",
	FTCPSrc: "NXM_OF_TCP_SRC", FTCPDst: "NXM_OF_TCP_DST", FUDPSrc: "NXM_OF_UDP_SRC", FUDPDst: "NXM_OF_UDP_DST",
	FICMPType: "NXM_OF_ICMP_TYPE", FICMPv6Type: "NXM_NX_ICMPV6_TYPE", FNDTarget: "NXM_NX_ND_TARGET",
	FNDSLL: "NXM_NX_ND_SLL", FNDTLL: "NXM_NX_ND_TLL",
}

// String renders the reference as NXM_..[a..b].
func (r FieldRef) String() string {
	var buf [64]byte
	return string(appendFieldRef(buf[:0], r))
}

func actionString(a Action) string {
	var buf [128]byte
	return string(appendAction(buf[:0], a))
}
