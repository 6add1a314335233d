package ofp

import (
	"net"
	"net/netip"
	"strconv"
)

// The ovs-ofctl text of flows is built by appending to one byte slice:
// agents render every flow's key and actions on each reconciliation, so
// this avoids fmt and per-part strings. The output is exactly what the
// Sprintf-based rendering gave (ofp_test.go keeps that as a reference).

// appendKey appends table=T,priority=P and the match in field order.
func (f Flow) appendKey(b []byte) []byte {
	b = append(b, "table="...)
	b = strconv.AppendUint(b, uint64(f.Table), 10)
	b = append(b, ",priority="...)
	b = strconv.AppendUint(b, uint64(f.Priority), 10)
	m := f.Match
	if len(m) > 32 {
		m = sortedMatch(m)
		for i := range m {
			b = append(b, ',')
			b = m[i].appendText(b)
		}
		return b
	}
	// A stable insertion sort of indexes: matches are short and usually
	// already in order.
	var idx [32]uint8
	for i := range m {
		idx[i] = uint8(i)
		for j := i; j > 0 && fieldLess(&m[idx[j]], &m[idx[j-1]]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	for _, i := range idx[:len(m)] {
		b = append(b, ',')
		b = m[i].appendText(b)
	}
	return b
}

func fieldLess(a, b *Field) bool {
	return a.Kind < b.Kind || (a.Kind == b.Kind && a.Index < b.Index)
}

// appendActions appends the actions comma-separated, "drop" for none.
func appendActions(b []byte, acts []Action) []byte {
	if len(acts) == 0 {
		return append(b, "drop"...)
	}
	for i, a := range acts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAction(b, a)
	}
	return b
}

func appendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }
func appendInt(b []byte, v int) []byte     { return strconv.AppendInt(b, int64(v), 10) }

// appendHex appends v in lower-case hex, zero-padded to width digits.
func appendHex(b []byte, v uint64, width int) []byte {
	var buf [16]byte
	s := strconv.AppendUint(buf[:0], v, 16)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

const hexDigits = "0123456789abcdef"

// appendMAC appends a MAC as net.HardwareAddr.String does.
func appendMAC(b []byte, m net.HardwareAddr) []byte {
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendNATPort ends a nat(...) clause, with its port when non-zero.
func appendNATPort(b []byte, port uint16) []byte {
	if port != 0 {
		b = appendUint(append(b, ':'), uint64(port))
	}
	return append(b, ')')
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, a.String()...) // "invalid IP"
	}
	return a.AppendTo(b)
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	if !p.IsValid() {
		return append(b, p.String()...) // "invalid Prefix"
	}
	return p.AppendTo(b)
}

// appendName appends the field's ovs-ofctl name (reg<N> for registers).
func (f Field) appendName(b []byte) []byte {
	if f.Kind == FReg {
		return appendInt(append(b, "reg"...), f.Index)
	}
	return append(b, f.Kind.Name()...)
}

// appendText appends name=value[/mask] as ovs-ofctl renders it.
func (f Field) appendText(b []byte) []byte {
	b = f.appendName(b)
	b = append(b, '=')
	return f.appendValue(b)
}

// appendValue appends the value[/mask] part of the field's text.
func (f Field) appendValue(b []byte) []byte {
	switch f.Kind {
	case FEthSrc, FEthDst, FARPSHA, FARPTHA, FNDSLL, FNDTLL:
		b = appendMAC(b, f.MAC)
		if f.MACMask != nil {
			b = appendMAC(append(b, '/'), f.MACMask)
		}
		return b
	case FARPSPA, FARPTPA, FIPv4Src, FIPv4Dst, FIPv6Src, FIPv6Dst, FNDTarget, FTunIPv4Dst:
		if f.Prefix.Bits() == f.Prefix.Addr().BitLen() {
			return appendAddr(b, f.Prefix.Addr())
		}
		return appendPrefix(b, f.Prefix)
	case FCTState:
		return appendCTState(b, uint32(f.Value), uint32(f.Mask))
	case FEthType:
		return appendHex(append(b, "0x"...), f.Value, 4)
	case FInPort, FIPProto, FARPOp, FIPTTL, FICMPType, FICMPCode, FICMPv6Type, FICMPv6Code, FCTZone, FNDOptionsType, FConjID:
		return appendUint(b, f.Value)
	case FTCPSrc, FTCPDst, FUDPSrc, FUDPDst:
		if f.Mask != 0 {
			b = appendHex(append(b, "0x"...), f.Value, 4)
			return appendHex(append(b, "/0x"...), f.Mask, 4)
		}
		return appendUint(b, f.Value)
	}
	b = appendHex(append(b, "0x"...), f.Value, 0)
	if f.Mask != 0 {
		b = appendHex(append(b, "/0x"...), f.Mask, 0)
	}
	return b
}

var ctStateNames = [...]struct {
	bit  uint32
	name string
}{{CTNew, "new"}, {CTEst, "est"}, {CTRel, "rel"}, {CTRpl, "rpl"}, {CTInv, "inv"}, {CTTrk, "trk"}, {CTSNAT, "snat"}, {CTDNAT, "dnat"}}

func appendCTState(b []byte, v, m uint32) []byte {
	for _, n := range ctStateNames {
		if m&n.bit == 0 {
			continue
		}
		if v&n.bit != 0 {
			b = append(b, '+')
		} else {
			b = append(b, '-')
		}
		b = append(b, n.name...)
	}
	return b
}

func appendRegRef(b []byte, reg int) []byte {
	return appendInt(append(b, "NXM_NX_REG"...), reg)
}

// appendFieldRef appends NXM_..[] or NXM_..[a..b].
func appendFieldRef(b []byte, r FieldRef) []byte {
	if r.Kind == FReg {
		b = appendRegRef(b, r.Index)
	} else {
		b = append(b, nxmNames[r.Kind]...)
	}
	if r.Bits == 0 {
		return append(b, "[]"...)
	}
	b = appendInt(append(b, '['), r.Start)
	b = appendInt(append(b, ".."...), r.Start+r.Bits-1)
	return append(b, ']')
}

// appendAction appends an action's ovs-ofctl text.
func appendAction(b []byte, a Action) []byte {
	switch a := a.(type) {
	case Output:
		return appendUint(append(b, "output:"...), uint64(a.Port))
	case OutputInPort:
		return append(b, "IN_PORT"...)
	case OutputReg:
		return append(appendRegRef(append(b, "output:"...), a.Reg), "[]"...)
	case SetField:
		b = append(b, "set_field:"...)
		b = a.Field.appendValue(b)
		return a.Field.appendName(append(b, "->"...))
	case Load:
		b = appendHex(append(b, "load:0x"...), a.Value, 0)
		b = appendRegRef(append(b, "->"...), a.Reg)
		b = appendInt(append(b, '['), a.Start)
		b = appendInt(append(b, ".."...), a.Start+a.Bits-1)
		return append(b, ']')
	case Move:
		b = appendFieldRef(append(b, "move:"...), a.Src)
		return appendFieldRef(append(b, "->"...), a.Dst)
	case Resubmit:
		return append(appendUint(append(b, "resubmit(,"...), uint64(a.Table)), ')')
	case Goto:
		return appendUint(append(b, "goto_table:"...), uint64(a.Table))
	case CT:
		return appendCT(b, a)
	case Controller:
		return appendController(b, a)
	case DecTTL:
		return append(b, "dec_ttl"...)
	case Conjunction:
		b = appendUint(append(b, "conjunction("...), uint64(a.ID))
		b = appendUint(append(b, ','), uint64(a.Clause))
		b = appendUint(append(b, '/'), uint64(a.N))
		return append(b, ')')
	}
	return append(b, a.String()...)
}

func appendCT(b []byte, a CT) []byte {
	b = append(b, "ct("...)
	if a.Commit {
		b = append(b, "commit,"...)
	}
	if a.ZoneReg >= 0 {
		b = append(appendRegRef(append(b, "zone="...), a.ZoneReg), "[0..15]"...)
	} else {
		b = appendUint(append(b, "zone="...), uint64(a.Zone))
	}
	if a.SetMark != nil {
		b = appendHex(append(b, ",exec(set_field:0x"...), uint64(*a.SetMark), 0)
		b = append(b, "->ct_mark)"...)
	}
	if a.NAT != nil {
		switch {
		case !a.NAT.Addr.IsValid():
			b = append(b, ",nat"...)
		case a.NAT.SNAT:
			b = appendNATPort(appendAddr(append(b, ",nat(src="...), a.NAT.Addr), a.NAT.Port)
		default:
			b = appendNATPort(appendAddr(append(b, ",nat(dst="...), a.NAT.Addr), a.NAT.Port)
		}
	}
	if a.Table >= 0 {
		b = appendInt(append(b, ",table="...), a.Table)
	}
	return append(b, ')')
}

func appendController(b []byte, a Controller) []byte {
	b = append(b, "controller(reason="...)
	switch a.Reason {
	case 0:
		b = append(b, "no_match"...)
	case 1:
		b = append(b, "action"...)
	}
	b = appendUint(append(b, ",id="...), uint64(a.ID))
	if len(a.UserData) > 0 {
		b = append(b, ",userdata="...)
		for i, c := range a.UserData {
			if i > 0 {
				b = append(b, '.')
			}
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(b, ')')
}
