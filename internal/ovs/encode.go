package ovs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// This file encodes ofp values as OpenFlow 1.3 wire messages (with
// Open vSwitch's Nicira extensions), appending to a byte slice so that a
// whole bundle of flow mods is built in one buffer without per-field
// allocations. The layouts follow openflow-1.3 and OVS's
// include/openflow/nicira-ext.h; libOpenflow's openflow13 package decodes
// them back in the unit tests, and ovs-ofctl ofp-print checks them too.

// OpenFlow 1.3 constants used on the wire.
const (
	ofpVersion = 0x04

	ofptHello          = 0
	ofptError          = 1
	ofptEchoRequest    = 2
	ofptEchoReply      = 3
	ofptExperimenter   = 4
	ofptFeaturesReq    = 5
	ofptFeaturesReply  = 6
	ofptSetConfig      = 9
	ofptPacketIn       = 10
	ofptPacketOut      = 13
	ofptFlowMod        = 14
	ofptMultipartReq   = 18
	ofptMultipartReply = 19
	ofptBarrierReq     = 20
	ofptBarrierReply   = 21

	ofpfcAdd          = 0
	ofpfcModifyStrict = 2
	ofpfcDelete       = 3
	ofpfcDeleteStrict = 4

	ofppInPort     = 0xfffffff8
	ofppController = 0xfffffffd
	ofppAny        = 0xffffffff
	ofpgAny        = 0xffffffff
	ofpttAll       = 0xff
	noBuffer       = 0xffffffff
	ofpcmlNoBuffer = 0xffff

	ofpatOutput   = 0
	ofpatDecNwTTL = 24
	ofpatSetField = 25
	ofpitGoto     = 1
	ofpitApply    = 4

	oxmClassNXM0  = 0x0000
	oxmClassNXM1  = 0x0001
	oxmClassBasic = 0x8000
	// oxmClassEricsson is the OXM class of OVS's ERICOXM fields.
	oxmClassEricsson = 0x1000

	nxVendor  = 0x00002320
	onfVendor = 0x4f4e4600

	nxastResubmitTable = 14
	nxastOutputReg     = 15
	nxastRegMove       = 6
	nxastRegLoad       = 7
	nxastController    = 20
	nxastConjunction   = 34
	nxastCT            = 35
	nxastNAT           = 36
	nxastController2   = 37
)

// fieldInfo locates a field on the wire: OXM/NXM class, field number and
// size in bytes.
type fieldInfo struct {
	class uint16
	field uint8
	size  uint8
}

func (fi fieldInfo) header(masked bool) uint32 {
	h := uint32(fi.class)<<16 | uint32(fi.field)<<9
	if masked {
		return h | 1<<8 | 2*uint32(fi.size) // length covers value and mask
	}
	return h | uint32(fi.size)
}

func (fi fieldInfo) bits() int { return int(fi.size) * 8 }

// oxmFields are the headers used in matches and set_field actions.
var oxmFields = [...]fieldInfo{
	ofp.FInPort:     {oxmClassBasic, 0, 4},
	ofp.FMetadata:   {oxmClassBasic, 2, 8},
	ofp.FReg:        {oxmClassNXM1, 0, 4}, // field = register index
	ofp.FTunID:      {oxmClassBasic, 38, 8},
	ofp.FTunIPv4Dst: {oxmClassNXM1, 32, 4},
	ofp.FCTState:    {oxmClassNXM1, 105, 4},
	ofp.FCTZone:     {oxmClassNXM1, 106, 2},
	ofp.FCTMark:     {oxmClassNXM1, 107, 4},
	ofp.FEthSrc:     {oxmClassBasic, 4, 6},
	ofp.FEthDst:     {oxmClassBasic, 3, 6},
	ofp.FEthType:    {oxmClassBasic, 5, 2},
	ofp.FARPOp:      {oxmClassBasic, 21, 2},
	ofp.FARPSPA:     {oxmClassBasic, 22, 4},
	ofp.FARPTPA:     {oxmClassBasic, 23, 4},
	ofp.FARPSHA:     {oxmClassBasic, 24, 6},
	ofp.FARPTHA:     {oxmClassBasic, 25, 6},
	ofp.FIPProto:    {oxmClassBasic, 10, 1},
	ofp.FIPv4Src:    {oxmClassBasic, 11, 4},
	ofp.FIPv4Dst:    {oxmClassBasic, 12, 4},
	ofp.FIPv6Src:    {oxmClassBasic, 26, 16},
	ofp.FIPv6Dst:    {oxmClassBasic, 27, 16},
	ofp.FIPTTL:      {oxmClassNXM1, 29, 1},
	ofp.FTCPSrc:     {oxmClassBasic, 13, 2},
	ofp.FTCPDst:     {oxmClassBasic, 14, 2},
	ofp.FUDPSrc:     {oxmClassBasic, 15, 2},
	ofp.FUDPDst:     {oxmClassBasic, 16, 2},
	ofp.FICMPType:   {oxmClassBasic, 19, 1},
	ofp.FICMPCode:   {oxmClassBasic, 20, 1},
	ofp.FICMPv6Type: {oxmClassBasic, 29, 1},
	ofp.FICMPv6Code: {oxmClassBasic, 30, 1},
	ofp.FNDTarget:   {oxmClassBasic, 31, 16},
	ofp.FNDSLL:      {oxmClassBasic, 32, 6},
	ofp.FNDTLL:      {oxmClassBasic, 33, 6},
	ofp.FConjID:     {oxmClassNXM1, 37, 4},
	// ERICOXM_OF_ICMPV6_ND_RESERVED and _ND_OPTIONS_TYPE (OVS 2.11+): the
	// NA flags and the type of the first ND option, set-only in flows
	// turning a solicitation into an advertisement.
	ofp.FNDReserved:    {oxmClassEricsson, 1, 4},
	ofp.FNDOptionsType: {oxmClassEricsson, 2, 1},
}

// nxmFields are the headers used by Nicira actions (move, output:reg),
// matching the NXM_* names ofp renders.
var nxmFields = [...]fieldInfo{
	ofp.FInPort:     {oxmClassNXM0, 0, 2},
	ofp.FMetadata:   {oxmClassBasic, 2, 8},
	ofp.FReg:        {oxmClassNXM1, 0, 4},
	ofp.FTunID:      {oxmClassNXM1, 16, 8},
	ofp.FTunIPv4Dst: {oxmClassNXM1, 32, 4},
	ofp.FCTState:    {oxmClassNXM1, 105, 4},
	ofp.FCTZone:     {oxmClassNXM1, 106, 2},
	ofp.FCTMark:     {oxmClassNXM1, 107, 4},
	ofp.FEthSrc:     {oxmClassNXM0, 2, 6},
	ofp.FEthDst:     {oxmClassNXM0, 1, 6},
	ofp.FEthType:    {oxmClassNXM0, 3, 2},
	ofp.FARPOp:      {oxmClassNXM0, 15, 2},
	ofp.FARPSPA:     {oxmClassNXM0, 16, 4},
	ofp.FARPTPA:     {oxmClassNXM0, 17, 4},
	ofp.FARPSHA:     {oxmClassNXM1, 17, 6},
	ofp.FARPTHA:     {oxmClassNXM1, 18, 6},
	ofp.FIPProto:    {oxmClassNXM0, 6, 1},
	ofp.FIPv4Src:    {oxmClassNXM0, 7, 4},
	ofp.FIPv4Dst:    {oxmClassNXM0, 8, 4},
	ofp.FIPv6Src:    {oxmClassNXM1, 19, 16},
	ofp.FIPv6Dst:    {oxmClassNXM1, 20, 16},
	ofp.FIPTTL:      {oxmClassNXM1, 29, 1},
	ofp.FTCPSrc:     {oxmClassNXM0, 9, 2},
	ofp.FTCPDst:     {oxmClassNXM0, 10, 2},
	ofp.FUDPSrc:     {oxmClassNXM0, 11, 2},
	ofp.FUDPDst:     {oxmClassNXM0, 12, 2},
	ofp.FICMPType:   {oxmClassNXM0, 13, 1},
	ofp.FICMPCode:   {oxmClassNXM0, 14, 1},
	ofp.FICMPv6Type: {oxmClassNXM1, 21, 1},
	ofp.FICMPv6Code: {oxmClassNXM1, 22, 1},
	ofp.FNDTarget:   {oxmClassNXM1, 23, 16},
	ofp.FNDSLL:      {oxmClassNXM1, 24, 6},
	ofp.FNDTLL:      {oxmClassNXM1, 25, 6},
	ofp.FConjID:     {oxmClassNXM1, 37, 4},
}

func lookup(table []fieldInfo, kind ofp.FieldKind, index int) (fieldInfo, error) {
	if kind < 0 || int(kind) >= len(table) {
		return fieldInfo{}, fmt.Errorf("unknown field kind %d", kind)
	}
	fi := table[kind]
	if fi.size == 0 {
		return fieldInfo{}, fmt.Errorf("field %s not supported by the encoder", kind.Name())
	}
	if kind == ofp.FReg {
		if index < 0 || index > 15 {
			return fieldInfo{}, fmt.Errorf("register %d out of range", index)
		}
		fi.field = uint8(index)
	}
	return fi, nil
}

// Command is the flow-mod command of a message built by AppendFlowMod.
type Command uint8

// Flow-mod commands. Modify and Delete are strict: they act on the flow
// with exactly the given table, priority and match. In OpenFlow 1.3 a
// modify keeps the flow's cookie (Bundle therefore sends modifies as adds).
const (
	CmdAdd    Command = ofpfcAdd
	CmdModify Command = ofpfcModifyStrict
	CmdDelete Command = ofpfcDeleteStrict
)

var be = binary.BigEndian

func pad8(b []byte, start int) []byte {
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendHeader appends an OpenFlow header with a zero length, to be
// patched by finish.
func appendHeader(b []byte, typ uint8, xid uint32) []byte {
	b = append(b, ofpVersion, typ, 0, 0)
	return be.AppendUint32(b, xid)
}

// finish patches the length of the message starting at start.
func finish(b []byte, start int) ([]byte, error) {
	n := len(b) - start
	if n > 0xffff {
		return b[:start], fmt.Errorf("message of %d bytes exceeds OpenFlow's 65535", n)
	}
	be.PutUint16(b[start+2:], uint16(n))
	return b, nil
}

// AppendFlowMod appends an OpenFlow 1.3 flow mod for f with the given
// command and xid. On error b is returned unchanged.
func AppendFlowMod(b []byte, xid uint32, cmd Command, f ofp.Flow) ([]byte, error) {
	start := len(b)
	b = appendHeader(b, ofptFlowMod, xid)
	b = be.AppendUint64(b, f.Cookie)
	b = be.AppendUint64(b, 0) // cookie mask: strict commands match on table/priority/match only
	b = append(b, f.Table, uint8(cmd))
	b = be.AppendUint16(b, 0) // idle timeout
	b = be.AppendUint16(b, 0) // hard timeout
	b = be.AppendUint16(b, f.Priority)
	b = be.AppendUint32(b, noBuffer)
	b = be.AppendUint32(b, ofppAny)
	b = be.AppendUint32(b, ofpgAny)
	b = be.AppendUint16(b, 0) // flags
	b = append(b, 0, 0)
	var err error
	if b, err = AppendMatch(b, f.Match); err != nil {
		return b[:start], fmt.Errorf("flow %s: %w", f, err)
	}
	if cmd != CmdDelete {
		if b, err = appendInstructions(b, f.Actions); err != nil {
			return b[:start], fmt.Errorf("flow %s: %w", f, err)
		}
	}
	return finish(b, start)
}

// appendDeleteCookie appends a non-strict delete of every flow, in every
// table, whose cookie matches cookie under mask.
func appendDeleteCookie(b []byte, xid uint32, cookie, mask uint64) []byte {
	start := len(b)
	b = appendHeader(b, ofptFlowMod, xid)
	b = be.AppendUint64(b, cookie)
	b = be.AppendUint64(b, mask)
	b = append(b, ofpttAll, ofpfcDelete)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint32(b, noBuffer)
	b = be.AppendUint32(b, ofppAny)
	b = be.AppendUint32(b, ofpgAny)
	b = be.AppendUint16(b, 0)
	b = append(b, 0, 0)
	b, _ = AppendMatch(b, nil)
	b, _ = finish(b, start)
	return b
}

// AppendMatch appends an OXM ofp_match (padded to 8 bytes) for fields.
// Fields are put in ofp's field order, which puts every prerequisite
// (dl_type, nw_proto, icmpv6_type) before the fields needing it, as OVS
// requires.
func AppendMatch(b []byte, fields []ofp.Field) ([]byte, error) {
	start := len(b)
	b = be.AppendUint16(b, 1) // OFPMT_OXM
	b = be.AppendUint16(b, 0)
	less := func(x, y ofp.Field) int {
		if x.Kind != y.Kind {
			return int(x.Kind) - int(y.Kind)
		}
		return x.Index - y.Index
	}
	if !slices.IsSortedFunc(fields, less) {
		fields = slices.Clone(fields)
		slices.SortStableFunc(fields, less)
	}
	var err error
	for _, f := range fields {
		if f.Kind == ofp.FTunIPv4Dst {
			return b[:start], errors.New("tun_dst is set-only")
		}
		if b, err = appendOXM(b, f, true); err != nil {
			return b[:start], err
		}
	}
	be.PutUint16(b[start+2:], uint16(len(b)-start)) // length without padding
	return pad8(b, start), nil
}

// appendOXM appends one OXM TLV for f; with masked false a mask is an
// error (set_field writes whole fields in OpenFlow 1.3).
func appendOXM(b []byte, f ofp.Field, masked bool) ([]byte, error) {
	fi, err := lookup(oxmFields[:], f.Kind, f.Index)
	if err != nil {
		return b, err
	}
	if f.Kind == ofp.FInPort && !masked {
		// OVS refuses set_field on OXM_OF_IN_PORT; it takes the 16-bit
		// NXM_OF_IN_PORT, as ovs-ofctl encodes set_field:N->in_port.
		fi = nxmFields[ofp.FInPort]
	}
	var val, mask [16]byte
	hasMask := false
	n := int(fi.size)
	switch f.Kind {
	case ofp.FEthSrc, ofp.FEthDst, ofp.FARPSHA, ofp.FARPTHA, ofp.FNDSLL, ofp.FNDTLL:
		if len(f.MAC) != 6 {
			return b, fmt.Errorf("%s: bad MAC %q", f.Kind.Name(), net.HardwareAddr(f.MAC))
		}
		copy(val[:], f.MAC)
		if f.MACMask != nil {
			if len(f.MACMask) != 6 {
				return b, fmt.Errorf("%s: bad MAC mask", f.Kind.Name())
			}
			copy(mask[:], f.MACMask)
			hasMask = true
		}
	case ofp.FARPSPA, ofp.FARPTPA, ofp.FIPv4Src, ofp.FIPv4Dst, ofp.FIPv6Src, ofp.FIPv6Dst, ofp.FNDTarget, ofp.FTunIPv4Dst:
		a := f.Prefix.Addr()
		if !a.IsValid() || a.BitLen() != n*8 {
			return b, fmt.Errorf("%s: bad address %s", f.Kind.Name(), f.Prefix)
		}
		copy(val[:], a.AsSlice())
		if bits := f.Prefix.Bits(); bits >= 0 && bits < n*8 {
			m := net.CIDRMask(bits, n*8)
			copy(mask[:], m)
			for i := range n {
				val[i] &= mask[i]
			}
			hasMask = true
		} else if bits < 0 {
			return b, fmt.Errorf("%s: bad prefix %s", f.Kind.Name(), f.Prefix)
		}
	default:
		if n < 8 && f.Value>>(8*n) != 0 {
			return b, fmt.Errorf("%s: value 0x%x wider than %d bytes", f.Kind.Name(), f.Value, n)
		}
		putUintN(val[:n], f.Value)
		if f.Mask != 0 {
			putUintN(mask[:n], f.Mask)
			hasMask = true
		}
	}
	if hasMask && !masked {
		return b, fmt.Errorf("set_field %s: masked writes are not supported", f.Kind.Name())
	}
	b = be.AppendUint32(b, fi.header(hasMask))
	b = append(b, val[:n]...)
	if hasMask {
		b = append(b, mask[:n]...)
	}
	return b, nil
}

func putUintN(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// appendInstructions appends apply_actions (when there are actions) and
// goto_table (when the last action is Goto).
func appendInstructions(b []byte, acts []ofp.Action) ([]byte, error) {
	var gotoTable = -1
	if n := len(acts); n > 0 {
		if g, ok := acts[n-1].(ofp.Goto); ok {
			gotoTable = int(g.Table)
			acts = acts[:n-1]
		}
	}
	if len(acts) > 0 {
		start := len(b)
		b = be.AppendUint16(b, ofpitApply)
		b = append(b, 0, 0, 0, 0, 0, 0)
		var err error
		if b, err = AppendActions(b, acts); err != nil {
			return b[:start], err
		}
		be.PutUint16(b[start+2:], uint16(len(b)-start))
	}
	if gotoTable >= 0 {
		b = be.AppendUint16(b, ofpitGoto)
		b = be.AppendUint16(b, 8)
		b = append(b, uint8(gotoTable), 0, 0, 0)
	}
	return b, nil
}

// nxHeader appends a Nicira action header with a zero length, to be
// patched by endAction.
func nxHeader(b []byte, subtype uint16) []byte {
	b = be.AppendUint16(b, 0xffff)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint32(b, nxVendor)
	return be.AppendUint16(b, subtype)
}

// endAction pads the action starting at start to 8 bytes and patches its
// length.
func endAction(b []byte, start int) []byte {
	b = pad8(b, start)
	be.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

func ofsNbits(ofs, nbits int) uint16 { return uint16(ofs<<6 | (nbits - 1)) }

// AppendActions appends the wire form of acts (an OpenFlow 1.3 action
// list, as in apply_actions or packet-out). Goto is an instruction, not an
// action, and is refused here.
func AppendActions(b []byte, acts []ofp.Action) ([]byte, error) {
	for _, a := range acts {
		start := len(b)
		var err error
		if b, err = appendAction(b, a); err != nil {
			return b[:start], fmt.Errorf("action %s: %w", a, err)
		}
	}
	return b, nil
}

func appendAction(b []byte, a ofp.Action) ([]byte, error) {
	start := len(b)
	switch a := a.(type) {
	case ofp.Output:
		return appendOutput(b, a.Port), nil
	case ofp.OutputInPort:
		return appendOutput(b, ofppInPort), nil
	case ofp.OutputReg:
		fi, err := lookup(nxmFields[:], ofp.FReg, a.Reg)
		if err != nil {
			return b, err
		}
		b = nxHeader(b, nxastOutputReg)
		b = be.AppendUint16(b, ofsNbits(0, 32))
		b = be.AppendUint32(b, fi.header(false))
		b = be.AppendUint16(b, 0) // max_len (only for the controller)
		return endAction(b, start), nil
	case ofp.SetField:
		return appendSetField(b, a.Field)
	case ofp.Load:
		fi, err := lookup(nxmFields[:], ofp.FReg, a.Reg)
		if err != nil {
			return b, err
		}
		if a.Bits < 1 || a.Start < 0 || a.Start+a.Bits > 32 {
			return b, fmt.Errorf("bits [%d, %d) outside a 32-bit register", a.Start, a.Start+a.Bits)
		}
		if a.Bits < 64 && a.Value>>a.Bits != 0 {
			return b, fmt.Errorf("value 0x%x wider than %d bits", a.Value, a.Bits)
		}
		b = nxHeader(b, nxastRegLoad)
		b = be.AppendUint16(b, ofsNbits(a.Start, a.Bits))
		b = be.AppendUint32(b, fi.header(false))
		b = be.AppendUint64(b, a.Value)
		return endAction(b, start), nil
	case ofp.Move:
		src, err := lookup(nxmFields[:], a.Src.Kind, a.Src.Index)
		if err != nil {
			return b, err
		}
		dst, err := lookup(nxmFields[:], a.Dst.Kind, a.Dst.Index)
		if err != nil {
			return b, err
		}
		n := a.Src.Bits
		if n == 0 {
			n = src.bits()
		}
		dn := a.Dst.Bits
		if dn == 0 {
			dn = dst.bits()
		}
		if n != dn {
			return b, fmt.Errorf("source has %d bits, destination %d", n, dn)
		}
		if a.Src.Start+n > src.bits() || a.Dst.Start+n > dst.bits() || a.Src.Start < 0 || a.Dst.Start < 0 {
			return b, errors.New("bit range outside the field")
		}
		b = nxHeader(b, nxastRegMove)
		b = be.AppendUint16(b, uint16(n))
		b = be.AppendUint16(b, uint16(a.Src.Start))
		b = be.AppendUint16(b, uint16(a.Dst.Start))
		b = be.AppendUint32(b, src.header(false))
		b = be.AppendUint32(b, dst.header(false))
		return endAction(b, start), nil
	case ofp.Resubmit:
		b = nxHeader(b, nxastResubmitTable)
		b = be.AppendUint16(b, 0xfff8) // OFPP_IN_PORT (1.0 numbering): keep in_port
		b = append(b, a.Table, 0, 0, 0)
		return endAction(b, start), nil
	case ofp.Goto:
		return b, errors.New("goto_table must be the last action of a flow")
	case ofp.CT:
		return appendCT(b, a)
	case ofp.Controller:
		return appendController(b, a), nil
	case ofp.DecTTL:
		// OFPAT_DEC_NW_TTL: OVS turns it into dec_ttl (controller id 0
		// on expiry); it needs an IP match (dl_type) in the flow.
		b = be.AppendUint16(b, ofpatDecNwTTL)
		b = be.AppendUint16(b, 8)
		return append(b, 0, 0, 0, 0), nil
	case ofp.Conjunction:
		if a.N < 2 || a.N > 64 || a.Clause < 1 || a.Clause > a.N {
			return b, fmt.Errorf("clause %d/%d out of range", a.Clause, a.N)
		}
		b = nxHeader(b, nxastConjunction)
		b = append(b, a.Clause-1, a.N)
		b = be.AppendUint32(b, a.ID)
		return endAction(b, start), nil
	case nil:
		return b, errors.New("nil action")
	}
	return b, fmt.Errorf("unsupported action type %T", a)
}

func appendOutput(b []byte, port uint32) []byte {
	b = be.AppendUint16(b, ofpatOutput)
	b = be.AppendUint16(b, 16)
	b = be.AppendUint32(b, port)
	maxLen := uint16(0)
	if port == ofppController {
		maxLen = ofpcmlNoBuffer
	}
	b = be.AppendUint16(b, maxLen)
	return append(b, 0, 0, 0, 0, 0, 0)
}

func appendSetField(b []byte, f ofp.Field) ([]byte, error) {
	start := len(b)
	b = be.AppendUint16(b, ofpatSetField)
	b = be.AppendUint16(b, 0)
	var err error
	if b, err = appendOXM(b, f, false); err != nil {
		return b[:start], err
	}
	return endAction(b, start), nil
}

// NX_NAT flags and range bits.
const (
	nxNATFSrc       = 1 << 0
	nxNATFDst       = 1 << 1
	nxNATRangeIPv4  = 1 << 0 // IPV4_MIN
	nxNATRangeIPv6  = 1 << 2 // IPV6_MIN
	nxNATRangeProto = 1 << 4 // PROTO_MIN
	nxCTFCommit     = 1 << 0
	nxCTRecircNone  = 0xff
	nxac2ptMaxLen   = 0
	nxac2ptID       = 1
	nxac2ptReason   = 2
	nxac2ptUserdata = 3
)

func appendCT(b []byte, a ofp.CT) ([]byte, error) {
	start := len(b)
	b = nxHeader(b, nxastCT)
	var flags uint16
	if a.Commit {
		flags |= nxCTFCommit
	}
	b = be.AppendUint16(b, flags)
	if a.ZoneReg >= 0 {
		fi, err := lookup(nxmFields[:], ofp.FReg, a.ZoneReg)
		if err != nil {
			return b[:start], err
		}
		b = be.AppendUint32(b, fi.header(false))
		b = be.AppendUint16(b, ofsNbits(0, 16))
	} else {
		b = be.AppendUint32(b, 0)
		b = be.AppendUint16(b, a.Zone)
	}
	switch {
	case a.Table < 0:
		b = append(b, nxCTRecircNone)
	case a.Table < 0xff:
		b = append(b, uint8(a.Table))
	default:
		return b[:start], fmt.Errorf("ct table %d out of range", a.Table)
	}
	b = append(b, 0, 0, 0) // pad
	b = be.AppendUint16(b, 0)
	if a.NAT != nil {
		if !a.Commit && a.NAT.Addr.IsValid() {
			return b[:start], errors.New("nat with an address needs commit")
		}
		ns := len(b)
		b = nxHeader(b, nxastNAT)
		b = append(b, 0, 0) // pad
		var nf, rng uint16
		if a.NAT.Addr.IsValid() {
			if a.NAT.SNAT {
				nf = nxNATFSrc
			} else {
				nf = nxNATFDst
			}
			if a.NAT.Addr.Is4() {
				rng = nxNATRangeIPv4
			} else {
				rng = nxNATRangeIPv6
			}
			if a.NAT.Port != 0 {
				rng |= nxNATRangeProto
			}
		}
		b = be.AppendUint16(b, nf)
		b = be.AppendUint16(b, rng)
		if a.NAT.Addr.IsValid() {
			b = append(b, a.NAT.Addr.AsSlice()...)
			if a.NAT.Port != 0 {
				b = be.AppendUint16(b, a.NAT.Port)
			}
		}
		b = endAction(b, ns)
	}
	if a.SetMark != nil {
		if !a.Commit {
			return b[:start], errors.New("setting ct_mark needs commit")
		}
		var err error
		if b, err = appendSetField(b, ofp.Field{Kind: ofp.FCTMark, Value: uint64(*a.SetMark)}); err != nil {
			return b[:start], err
		}
	}
	be.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, nil
}

func appendController(b []byte, a ofp.Controller) []byte {
	start := len(b)
	if len(a.UserData) == 0 {
		b = nxHeader(b, nxastController)
		b = be.AppendUint16(b, ofpcmlNoBuffer)
		b = be.AppendUint16(b, a.ID)
		b = append(b, a.Reason, 0)
		return endAction(b, start)
	}
	b = nxHeader(b, nxastController2)
	b = append(b, 0, 0, 0, 0, 0, 0)
	prop := func(typ uint16, val []byte) {
		ps := len(b)
		b = be.AppendUint16(b, typ)
		b = be.AppendUint16(b, uint16(4+len(val)))
		b = append(b, val...)
		b = pad8(b, ps)
	}
	prop(nxac2ptMaxLen, []byte{0xff, 0xff})
	prop(nxac2ptID, be.AppendUint16(nil, a.ID))
	prop(nxac2ptReason, []byte{a.Reason})
	prop(nxac2ptUserdata, a.UserData)
	be.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}
