package ofp

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"
)

// The Sprintf-based rendering the appenders replaced, kept as the
// reference they must match byte for byte.

func refField(f Field) string {
	name := f.Kind.Name()
	if f.Kind == FReg {
		name = fmt.Sprintf("reg%d", f.Index)
	}
	switch f.Kind {
	case FEthSrc, FEthDst, FARPSHA, FARPTHA, FNDSLL, FNDTLL:
		if f.MACMask != nil {
			return fmt.Sprintf("%s=%s/%s", name, f.MAC, f.MACMask)
		}
		return fmt.Sprintf("%s=%s", name, f.MAC)
	case FARPSPA, FARPTPA, FIPv4Src, FIPv4Dst, FIPv6Src, FIPv6Dst, FNDTarget, FTunIPv4Dst:
		if f.Prefix.Bits() == f.Prefix.Addr().BitLen() {
			return fmt.Sprintf("%s=%s", name, f.Prefix.Addr())
		}
		return fmt.Sprintf("%s=%s", name, f.Prefix)
	case FCTState:
		return "ct_state=" + refCTState(uint32(f.Value), uint32(f.Mask))
	case FEthType:
		return fmt.Sprintf("%s=0x%04x", name, f.Value)
	case FInPort, FIPProto, FARPOp, FIPTTL, FICMPType, FICMPCode, FICMPv6Type, FICMPv6Code, FCTZone, FNDOptionsType, FConjID, FIPDSCP:
		return fmt.Sprintf("%s=%d", name, f.Value)
	case FTCPSrc, FTCPDst, FUDPSrc, FUDPDst:
		if f.Mask != 0 {
			return fmt.Sprintf("%s=0x%04x/0x%04x", name, f.Value, f.Mask)
		}
		return fmt.Sprintf("%s=%d", name, f.Value)
	}
	if f.Mask != 0 {
		return fmt.Sprintf("%s=0x%x/0x%x", name, f.Value, f.Mask)
	}
	return fmt.Sprintf("%s=0x%x", name, f.Value)
}

func refCTState(v, m uint32) string {
	var b strings.Builder
	for _, n := range ctStateNames {
		if m&n.bit == 0 {
			continue
		}
		if v&n.bit != 0 {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
		b.WriteString(n.name)
	}
	return b.String()
}

func refFieldRef(r FieldRef) string {
	name := nxmNames[r.Kind]
	if r.Kind == FReg {
		name = fmt.Sprintf("NXM_NX_REG%d", r.Index)
	}
	if r.Bits == 0 {
		return name + "[]"
	}
	return fmt.Sprintf("%s[%d..%d]", name, r.Start, r.Start+r.Bits-1)
}

func refAction(a Action) string {
	switch a := a.(type) {
	case Output:
		return fmt.Sprintf("output:%d", a.Port)
	case OutputInPort:
		return "IN_PORT"
	case OutputReg:
		return fmt.Sprintf("output:NXM_NX_REG%d[]", a.Reg)
	case SetField:
		s := refField(a.Field)
		i := strings.IndexByte(s, '=')
		return "set_field:" + s[i+1:] + "->" + s[:i]
	case Load:
		return fmt.Sprintf("load:0x%x->NXM_NX_REG%d[%d..%d]", a.Value, a.Reg, a.Start, a.Start+a.Bits-1)
	case Move:
		return "move:" + refFieldRef(a.Src) + "->" + refFieldRef(a.Dst)
	case Resubmit:
		return fmt.Sprintf("resubmit(,%d)", a.Table)
	case Goto:
		return fmt.Sprintf("goto_table:%d", a.Table)
	case CT:
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
	case Controller:
		s := fmt.Sprintf("controller(reason=%s,id=%d", map[uint8]string{0: "no_match", 1: "action"}[a.Reason], a.ID)
		if len(a.UserData) > 0 {
			hex := make([]string, len(a.UserData))
			for i, b := range a.UserData {
				hex[i] = fmt.Sprintf("%02x", b)
			}
			s += ",userdata=" + strings.Join(hex, ".")
		}
		return s + ")"
	case DecTTL:
		return "dec_ttl"
	case Conjunction:
		return fmt.Sprintf("conjunction(%d,%d/%d)", a.ID, a.Clause, a.N)
	}
	panic(fmt.Sprintf("unknown action %T", a))
}

func refKey(f Flow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table=%d,priority=%d", f.Table, f.Priority)
	s := append([]Field(nil), f.Match...)
	sort.SliceStable(s, func(i, j int) bool {
		return s[i].Kind < s[j].Kind || (s[i].Kind == s[j].Kind && s[i].Index < s[j].Index)
	})
	for _, m := range s {
		b.WriteByte(',')
		b.WriteString(refField(m))
	}
	return b.String()
}

func refString(f Flow) string {
	acts := make([]string, len(f.Actions))
	for i, a := range f.Actions {
		acts[i] = refAction(a)
	}
	a := strings.Join(acts, ",")
	if a == "" {
		a = "drop"
	}
	return refKey(f) + " actions=" + a
}

// randField returns a field of any kind with random contents, including
// the odd ones: nil MACs, invalid prefixes, masks, unknown kinds.
func randField(r *rand.Rand) Field {
	f := Field{Kind: FieldKind(r.IntN(int(FConjID) + 2)), Index: r.IntN(16)}
	switch r.IntN(3) {
	case 0:
		f.Value = uint64(r.IntN(70000))
	case 1:
		f.Value = r.Uint64()
	}
	if r.IntN(2) == 0 {
		f.Mask = r.Uint64() >> r.IntN(64)
	}
	if r.IntN(6) != 0 {
		f.MAC = net.HardwareAddr{byte(r.IntN(256)), 0x16, 0x3e, byte(r.IntN(256)), 0, byte(r.IntN(256))}
	}
	if r.IntN(3) == 0 {
		f.MACMask = net.HardwareAddr{1, 0, 0, 0, 0, byte(r.IntN(256))}
	}
	switch r.IntN(5) {
	case 0: // zero prefix
	case 1:
		f.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), 0, byte(r.IntN(256))}), 32)
	case 2:
		f.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), 0, 0}), r.IntN(33))
	case 3:
		f.Prefix = netip.MustParsePrefix("fe80::f816:3eff:fe00:1/128")
	case 4:
		f.Prefix = netip.PrefixFrom(netip.MustParseAddr("2001:db8::"), r.IntN(129))
	}
	return f
}

func randAction(r *rand.Rand) Action {
	ref := func() FieldRef {
		return FieldRef{Kind: FieldKind(r.IntN(int(FConjID) + 1)), Index: r.IntN(16), Start: r.IntN(32), Bits: r.IntN(3) * 8}
	}
	switch r.IntN(12) {
	case 0:
		return Output{Port: r.Uint32()}
	case 1:
		return OutputInPort{}
	case 2:
		return OutputReg{Reg: r.IntN(16)}
	case 3:
		return SetField{Field: randField(r)}
	case 4:
		return Load{Reg: r.IntN(16), Start: r.IntN(32), Bits: 1 + r.IntN(32), Value: r.Uint64() >> r.IntN(64)}
	case 5:
		return Move{Src: ref(), Dst: ref()}
	case 6:
		return Resubmit{Table: uint8(r.IntN(256))}
	case 7:
		return Goto{Table: uint8(r.IntN(256))}
	case 8:
		ct := CT{Commit: r.IntN(2) == 0, Zone: uint16(r.IntN(65536)), ZoneReg: r.IntN(20) - 4, Table: r.IntN(300) - 50}
		if r.IntN(2) == 0 {
			m := r.Uint32()
			ct.SetMark = &m
		}
		switch r.IntN(4) {
		case 1:
			ct.NAT = &NAT{}
		case 2:
			ct.NAT = &NAT{SNAT: true, Addr: netip.MustParseAddr("203.0.113.10")}
		case 3:
			ct.NAT = &NAT{Addr: netip.MustParseAddr("2001:db8::5")}
		}
		return ct
	case 9:
		ud := make([]byte, r.IntN(9))
		for i := range ud {
			ud[i] = byte(r.IntN(256))
		}
		return Controller{ID: uint16(r.IntN(65536)), Reason: uint8(r.IntN(3)), UserData: ud}
	case 10:
		return DecTTL{}
	}
	return Conjunction{ID: r.Uint32(), Clause: uint8(r.IntN(256)), N: uint8(r.IntN(256))}
}

func randFlow(r *rand.Rand) Flow {
	f := Flow{Table: uint8(r.IntN(256)), Priority: uint16(r.IntN(65536)), Cookie: r.Uint64()}
	for range r.IntN(40) {
		f.Match = append(f.Match, randField(r))
	}
	for range r.IntN(8) {
		f.Actions = append(f.Actions, randAction(r))
	}
	return f
}

// TestTextMatchesReference: Key, String, Field.String and every action's
// String render exactly what the Sprintf-based code did.
func TestTextMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		f := randFlow(r)
		if got, want := f.Key(), refKey(f); got != want {
			t.Fatalf("Key:\n got %s\nwant %s", got, want)
		}
		if got, want := f.String(), refString(f); got != want {
			t.Fatalf("String:\n got %s\nwant %s", got, want)
		}
		for _, m := range f.Match {
			if got, want := m.String(), refField(m); got != want {
				t.Fatalf("Field %+v:\n got %s\nwant %s", m, got, want)
			}
		}
		for _, a := range f.Actions {
			if got, want := a.String(), refAction(a); got != want {
				t.Fatalf("%T %+v:\n got %s\nwant %s", a, a, got, want)
			}
		}
	}
	for i := 0; i < 2000; i++ {
		ref := FieldRef{Kind: FieldKind(i % int(FConjID+2)), Index: i % 17, Start: i % 31, Bits: i % 3 * 7}
		if got, want := ref.String(), refFieldRef(ref); got != want {
			t.Fatalf("FieldRef %+v: got %s, want %s", ref, got, want)
		}
	}
}

// TestSortMatchesReference: Sort orders as the comparator on String did.
func TestSortMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fs := make([]Flow, 3000)
	for i := range fs {
		fs[i] = randFlow(r)
		fs[i].Table %= 4
		fs[i].Priority %= 3
	}
	Sort(fs)
	for i := 1; i < len(fs); i++ {
		a, b := fs[i-1], fs[i]
		ok := a.Table < b.Table || a.Table == b.Table && (a.Priority > b.Priority ||
			a.Priority == b.Priority && refString(a) <= refString(b))
		if !ok {
			t.Fatalf("out of order at %d:\n%s\n%s", i, refString(a), refString(b))
		}
	}
}

func BenchmarkFlowKeyAndString(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	fs := make([]Flow, 1000)
	for i := range fs {
		fs[i] = randFlow(r)
		fs[i].Match = fs[i].Match[:min(len(fs[i].Match), 5)]
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range fs {
			_ = f.Key()
			_ = f.String()
		}
	}
}
