package ofp

import (
	"fmt"
	"net/netip"
	"strings"
)

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

func (a Output) String() string     { return fmt.Sprintf("output:%d", a.Port) }
func (OutputInPort) String() string { return "IN_PORT" }
func (a OutputReg) String() string  { return fmt.Sprintf("output:NXM_NX_REG%d[]", a.Reg) }

func (a SetField) String() string {
	s := a.Field.String() // name=value
	i := strings.IndexByte(s, '=')
	return "set_field:" + s[i+1:] + "->" + s[:i]
}

func (a Load) String() string {
	return fmt.Sprintf("load:0x%x->NXM_NX_REG%d[%d..%d]", a.Value, a.Reg, a.Start, a.Start+a.Bits-1)
}

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
	name := nxmNames[r.Kind]
	if r.Kind == FReg {
		name = fmt.Sprintf("NXM_NX_REG%d", r.Index)
	}
	if r.Bits == 0 {
		return name + "[]"
	}
	return fmt.Sprintf("%s[%d..%d]", name, r.Start, r.Start+r.Bits-1)
}

func (a Move) String() string     { return "move:" + a.Src.String() + "->" + a.Dst.String() }
func (a Resubmit) String() string { return fmt.Sprintf("resubmit(,%d)", a.Table) }
func (a Goto) String() string     { return fmt.Sprintf("goto_table:%d", a.Table) }

func (a CT) String() string {
	var parts []string
	if a.Commit {
		parts = append(parts, "commit")
	}
	if a.ZoneReg >= 0 {
		parts = append(parts, fmt.Sprintf("zone=NXM_NX_REG%d[0..15]", a.ZoneReg))
	} else {
		parts = append(parts, fmt.Sprintf("zone=%d", a.Zone))
	}
	if a.SetMark != nil {
		parts = append(parts, fmt.Sprintf("exec(set_field:0x%x->ct_mark)", *a.SetMark))
	}
	if a.NAT != nil {
		switch {
		case !a.NAT.Addr.IsValid():
			parts = append(parts, "nat")
		case a.NAT.SNAT:
			parts = append(parts, fmt.Sprintf("nat(src=%s)", a.NAT.Addr))
		default:
			parts = append(parts, fmt.Sprintf("nat(dst=%s)", a.NAT.Addr))
		}
	}
	if a.Table >= 0 {
		parts = append(parts, fmt.Sprintf("table=%d", a.Table))
	}
	return "ct(" + strings.Join(parts, ",") + ")"
}

func (a Controller) String() string {
	s := fmt.Sprintf("controller(reason=%s,id=%d", map[uint8]string{0: "no_match", 1: "action"}[a.Reason], a.ID)
	if len(a.UserData) > 0 {
		hex := make([]string, len(a.UserData))
		for i, b := range a.UserData {
			hex[i] = fmt.Sprintf("%02x", b)
		}
		s += ",userdata=" + strings.Join(hex, ".")
	}
	return s + ")"
}

func (DecTTL) String() string { return "dec_ttl" }

func (a Conjunction) String() string {
	return fmt.Sprintf("conjunction(%d,%d/%d)", a.ID, a.Clause, a.N)
}
