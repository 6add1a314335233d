package ofp

import (
	"net"
	"net/netip"
	"testing"
)

func TestFlowText(t *testing.T) {
	mac, _ := net.ParseMAC("fa:16:3e:00:00:01")
	f := Flow{Table: 10, Priority: 100, Match: []Field{
		EthType(EthTypeARP), InPort(3), ARPTPA(netip.MustParsePrefix("10.0.0.5/32")), Reg(6, 7),
	}, Actions: []Action{
		Move{Src: FieldRef{Kind: FEthSrc}, Dst: FieldRef{Kind: FEthDst}},
		SetField{Field: EthSrc(mac)},
		SetField{Field: Field{Kind: FARPOp, Value: 2}},
		Load{Reg: 0, Start: 0, Bits: 4, Value: 1},
		CT{Commit: true, ZoneReg: 6, Table: 20, NAT: &NAT{SNAT: true, Addr: netip.MustParseAddr("203.0.113.10")}},
		OutputInPort{},
	}}
	want := "table=10,priority=100,in_port=3,reg6=0x7,dl_type=0x0806,arp_tpa=10.0.0.5 actions=" +
		"move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:fa:16:3e:00:00:01->dl_src,set_field:2->arp_op," +
		"load:0x1->NXM_NX_REG0[0..3],ct(commit,zone=NXM_NX_REG6[0..15],nat(src=203.0.113.10),table=20),IN_PORT"
	if got := f.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := (Flow{Table: 1, Priority: 0}).String(); got != "table=1,priority=0 actions=drop" {
		t.Errorf("empty flow: %s", got)
	}
	if got := CTState(CTTrk|CTNew, CTTrk|CTNew|CTInv).String(); got != "ct_state=+new-inv+trk" {
		t.Errorf("ct_state: %s", got)
	}
}

func TestNDExtFields(t *testing.T) {
	acts := []Action{
		SetField{Field: Field{Kind: FNDReserved, Value: 0x60000000}},
		SetField{Field: Field{Kind: FNDOptionsType, Value: 2}},
	}
	f := Flow{Table: 3, Priority: 1, Actions: acts}
	want := "table=3,priority=1 actions=set_field:0x60000000->nd_reserved,set_field:2->nd_options_type"
	if got := f.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestConjID(t *testing.T) {
	f := Flow{Table: 2, Priority: 70, Match: []Field{ConjID(0x10002), EthType(EthTypeIPv4)},
		Actions: []Action{Conjunction{ID: 5, Clause: 2, N: 2}}}
	want := "table=2,priority=70,dl_type=0x0800,conj_id=65538 actions=conjunction(5,2/2)"
	if got := f.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
