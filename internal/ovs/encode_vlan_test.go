package ovs_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

// TestEncodeVLAN checks the wire form of a vlan provider network's flows
// byte for byte against OpenFlow 1.3 (libOpenflow misreads an OXM
// vlan_vid match, so it cannot be the reference here; the e2e test has
// real OVS take them): OXM_OF_VLAN_VID with the present bit, exact and
// masked; pop_vlan; push_vlan 0x8100 then set_field vlan_vid.
func TestEncodeVLAN(t *testing.T) {
	contains := func(what string, b []byte, want string) {
		t.Helper()
		w, err := hex.DecodeString(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, w) {
			t.Errorf("%s: %s not in\n%s", what, want, hex.Dump(b))
		}
	}
	encode := func(f ofp.Flow) []byte {
		t.Helper()
		b, err := ovs.AppendFlowMod(nil, 1, ovs.CmdAdd, f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	in := encode(ofp.Flow{Table: 0, Priority: 110, Match: []ofp.Field{ofp.InPort(20), {Kind: ofp.FVLANVID, Value: ofp.VLANPresent | 101}},
		Actions: []ofp.Action{ofp.PopVLAN{}, ofp.Goto{Table: 5}}})
	contains("in_port, vlan_vid=0x1065", in, "80000004"+"00000014"+"80000c02"+"1065")
	contains("pop_vlan, goto_table:5", in, "00040010"+"00000000"+"00120008"+"00000000"+"00010008"+"05000000")

	out := encode(ofp.Flow{Table: 5, Priority: 5, Match: []ofp.Field{{Kind: ofp.FVLANVID, Value: ofp.VLANPresent, Mask: ofp.VLANPresent}},
		Actions: []ofp.Action{ofp.PushVLAN{}, ofp.SetField{Field: ofp.Field{Kind: ofp.FVLANVID, Value: ofp.VLANPresent | 101}}, ofp.Output{Port: 20}}})
	contains("vlan_vid=0x1000/0x1000", out, "80000d04"+"1000"+"1000")
	contains("push_vlan:0x8100", out, "00110008"+"81000000")
	contains("set_field:0x1065->vlan_vid", out, "00190010"+"80000c02"+"1065")
	if got := (ofp.Flow{Actions: []ofp.Action{ofp.PushVLAN{}, ofp.PopVLAN{}}}).String(); got != "table=0,priority=0 actions=push_vlan:0x8100,pop_vlan" {
		t.Errorf("text: %s", got)
	}
}
