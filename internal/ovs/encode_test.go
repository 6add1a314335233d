package ovs_test

import (
	"encoding/hex"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	of13 "github.com/contiv/libOpenflow/openflow13"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

var (
	ofpPrintHead = regexp.MustCompile(`^OFPT_FLOW_MOD \(OF1\.3\) \(xid=0x[0-9a-f]+\): ADD (table:(\d+) )?`)
	ofpPrintCk   = regexp.MustCompile(` cookie:(0x[0-9a-f]+)`)
	wantHead     = regexp.MustCompile(`^cookie=(0x[0-9a-f]+), table=(\d+), `)
)

// TestEncodeOfpPrint decodes every encoded representative flow with
// ovs-ofctl ofp-print (OVS's own decoder, no daemon needed) and compares
// the text with what dump-flows shows for it on a real bridge.
func TestEncodeOfpPrint(t *testing.T) {
	if _, err := exec.LookPath("ovs-ofctl"); err != nil {
		if testing.Short() {
			t.Skip("ovs-ofctl not installed")
		}
		t.Fatalf("ovs-ofctl not found (install openvswitch-switch, see scripts/deps.sh): %v", err)
	}
	for i, r := range representative {
		b, err := ovs.AppendFlowMod(nil, uint32(i+1), ovs.CmdAdd, r.flow)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(b)).CombinedOutput()
		if err != nil {
			t.Fatalf("flow %d: %v: %s", i, err, out)
		}
		got := strings.TrimSpace(string(out))
		m := ofpPrintHead.FindStringSubmatch(got)
		if m == nil {
			t.Errorf("flow %d: ovs-ofctl: %s", i, got)
			continue
		}
		table := m[2]
		if table == "" {
			table = "0"
		}
		cookie := ""
		if c := ofpPrintCk.FindStringSubmatch(got); c != nil {
			cookie = c[1]
		}
		body := ofpPrintCk.ReplaceAllString(got[len(m[0]):], "")
		got = "cookie=" + cookie + ", table=" + table + ", " + body
		if got != r.want {
			t.Errorf("flow %d:\n got %s\nwant %s", i, got, r.want)
		}
		if !wantHead.MatchString(r.want) {
			t.Errorf("flow %d: bad want %q", i, r.want)
		}
	}
}

// TestEncodeLibOpenflow decodes flow mods with libOpenflow's openflow13
// package and checks header, match fields and instructions.
func TestEncodeLibOpenflow(t *testing.T) {
	f := ofp.Flow{Table: 10, Priority: 300, Cookie: 0xfeed,
		Match: []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.InPort(3), ofp.RegMasked(4, 0x10, 0xf0),
			ofp.IPSrc(netip.MustParsePrefix("10.1.0.0/16"))},
		Actions: []ofp.Action{ofp.Output{Port: 5}, ofp.Resubmit{Table: 11}, ofp.Conjunction{ID: 3, Clause: 2, N: 3}, ofp.Goto{Table: 12}}}
	b, err := ovs.AppendFlowMod(nil, 42, ovs.CmdAdd, f)
	if err != nil {
		t.Fatal(err)
	}
	var fm of13.FlowMod
	if err := fm.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if fm.Header.Xid != 42 || fm.Header.Type != of13.Type_FlowMod || int(fm.Header.Length) != len(b) ||
		fm.Cookie != 0xfeed || fm.TableId != 10 || fm.Priority != 300 || fm.Command != of13.FC_ADD {
		t.Errorf("flow mod header: %+v", fm)
	}
	type hdr struct {
		class uint16
		field uint8
		mask  bool
	}
	var got []hdr
	for _, m := range fm.Match.Fields {
		got = append(got, hdr{m.Class, m.Field, m.HasMask})
	}
	want := []hdr{{0x8000, of13.OXM_FIELD_IN_PORT, false}, {0x0001, 4, true}, {0x8000, of13.OXM_FIELD_ETH_TYPE, false}, {0x8000, of13.OXM_FIELD_IPV4_SRC, true}}
	if len(got) != len(want) {
		t.Fatalf("match fields %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("match field %d: %v, want %v", i, got[i], want[i])
		}
	}
	if v := fm.Match.Fields[0].Value.(*of13.InPortField).InPort; v != 3 {
		t.Errorf("in_port %d", v)
	}
	if len(fm.Instructions) != 2 {
		t.Fatalf("%d instructions", len(fm.Instructions))
	}
	acts := fm.Instructions[0].(*of13.InstrActions).Actions
	if len(acts) != 3 {
		t.Fatalf("%d actions", len(acts))
	}
	if o, ok := acts[0].(*of13.ActionOutput); !ok || o.Port != 5 {
		t.Errorf("action 0: %#v", acts[0])
	}
	if r, ok := acts[1].(*of13.NXActionResubmitTable); !ok || r.TableID != 11 {
		t.Errorf("action 1: %#v", acts[1])
	}
	if c, ok := acts[2].(*of13.NXActionConjunction); !ok || c.ID != 3 || c.Clause != 1 || c.NClause != 3 {
		t.Errorf("action 2: %#v", acts[2])
	}
	if g, ok := fm.Instructions[1].(*of13.InstrGotoTable); !ok || g.TableId != 12 {
		t.Errorf("instruction 1: %#v", fm.Instructions[1])
	}

	// A strict delete carries the match and no instructions.
	b, err = ovs.AppendFlowMod(nil, 43, ovs.CmdDelete, f)
	if err != nil {
		t.Fatal(err)
	}
	fm = of13.FlowMod{}
	if err := fm.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if fm.Command != of13.FC_DELETE_STRICT || len(fm.Match.Fields) != 4 || len(fm.Instructions) != 0 || fm.OutPort != of13.P_ANY {
		t.Errorf("delete: %+v", fm)
	}
}

func TestEncodeErrors(t *testing.T) {
	bad := map[string]ofp.Flow{
		"goto not last":   {Actions: []ofp.Action{ofp.Goto{Table: 3}, ofp.Output{Port: 1}}},
		"register 16":     {Match: []ofp.Field{ofp.Reg(16, 1)}},
		"value too wide":  {Match: []ofp.Field{ofp.IPProto(0)}, Actions: []ofp.Action{ofp.SetField{Field: ofp.Field{Kind: ofp.FEthType, Value: 0x10000}}}},
		"masked set":      {Actions: []ofp.Action{ofp.SetField{Field: ofp.RegMasked(1, 1, 1)}}},
		"tun_dst match":   {Match: []ofp.Field{{Kind: ofp.FTunIPv4Dst, Prefix: netip.MustParsePrefix("192.0.2.1/32")}}},
		"bad MAC":         {Match: []ofp.Field{ofp.EthSrc(nil)}},
		"v6 in v4 field":  {Match: []ofp.Field{{Kind: ofp.FIPv4Src, Prefix: netip.MustParsePrefix("2001:db8::/32")}}},
		"load overflow":   {Actions: []ofp.Action{ofp.Load{Reg: 1, Start: 30, Bits: 4, Value: 1}}},
		"load too wide":   {Actions: []ofp.Action{ofp.Load{Reg: 1, Start: 0, Bits: 4, Value: 0x10}}},
		"move widths":     {Actions: []ofp.Action{ofp.Move{Src: ofp.FieldRef{Kind: ofp.FEthSrc}, Dst: ofp.FieldRef{Kind: ofp.FReg, Index: 1}}}},
		"conjunction 3/2": {Actions: []ofp.Action{ofp.Conjunction{ID: 1, Clause: 3, N: 2}}},
		"nil action":      {Actions: []ofp.Action{nil}},
		"unencodable":     {Actions: []ofp.Action{ofp.SetField{Field: ofp.Field{Kind: ofp.FieldKind(250), Value: 1}}}},
		"nat needs commit": {Actions: []ofp.Action{ofp.CT{ZoneReg: -1, Table: -1,
			NAT: &ofp.NAT{Addr: netip.MustParseAddr("10.0.0.1")}}}},
	}
	for name, f := range bad {
		b, err := ovs.AppendFlowMod([]byte{1, 2, 3}, 1, ovs.CmdAdd, f)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if string(b) != "\x01\x02\x03" {
			t.Errorf("%s: buffer not restored: %x", name, b)
		}
	}
}

func BenchmarkAppendFlowMod(b *testing.B) {
	f := ofp.Flow{Table: 10, Priority: 100, Cookie: 1,
		Match: []ofp.Field{ofp.Reg(6, 1), ofp.EthType(ofp.EthTypeIPv4), ofp.IPDst(netip.MustParsePrefix("10.0.0.1/32"))},
		Actions: []ofp.Action{ofp.SetField{Field: ofp.EthDst(mac("fa:16:3e:00:00:01"))},
			ofp.Load{Reg: 7, Start: 0, Bits: 32, Value: 9}, ofp.Goto{Table: 20}}}
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = ovs.AppendFlowMod(buf[:0], 1, ovs.CmdAdd, f); err != nil {
			b.Fatal(err)
		}
	}
}
