package ovs_test

import (
	"net"
	"net/netip"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func u32(v uint32) *uint32 { return &v }

// representative is a flow set covering every ofp Field kind and Action
// type, each with the line `ovs-ofctl -O OpenFlow13 dump-flows` prints for
// it (normalized: cookie, table, priority, match, actions). Port numbers 1
// and 2 are the tunnel ports the integration test creates first.
var representative = []struct {
	flow ofp.Flow
	want string
}{
	{ofp.Flow{Table: 0, Priority: 100, Cookie: 0x1000000000000001,
		Match:   []ofp.Field{ofp.InPort(1), ofp.TunID(100)},
		Actions: []ofp.Action{ofp.Load{Reg: 0, Start: 0, Bits: 16, Value: 0x1234}, ofp.Goto{Table: 10}}},
		"cookie=0x1000000000000001, table=0, priority=100,tun_id=0x64,in_port=1 actions=load:0x1234->NXM_NX_REG0[0..15],goto_table:10"},
	{ofp.Flow{Table: 0, Priority: 90, Cookie: 0x1000000000000001,
		Match:   []ofp.Field{ofp.InPort(2), ofp.Metadata(0x5, 0xff)},
		Actions: []ofp.Action{ofp.SetField{Field: ofp.Reg(3, 7)}, ofp.SetField{Field: ofp.Field{Kind: ofp.FMetadata, Value: 0x42}}, ofp.Resubmit{Table: 20}}},
		"cookie=0x1000000000000001, table=0, priority=90,metadata=0x5/0xff,in_port=2 actions=set_field:0x7->reg3,set_field:0x42->metadata,resubmit(,20)"},
	{ofp.Flow{Table: 10, Priority: 200, Cookie: 0x1000000000000002,
		Match: []ofp.Field{ofp.Reg(3, 7), ofp.RegMasked(15, 0x10, 0xf0), ofp.EthType(ofp.EthTypeARP), ofp.ARPOp(1),
			ofp.ARPTPA(pfx("10.0.0.1/32")), ofp.ARPSPA(pfx("10.0.0.0/24")), ofp.ARPSHA(mac("fa:16:3e:00:00:05")),
			{Kind: ofp.FARPTHA, MAC: mac("00:00:00:00:00:00")}},
		Actions: []ofp.Action{
			ofp.Move{Src: ofp.FieldRef{Kind: ofp.FEthSrc}, Dst: ofp.FieldRef{Kind: ofp.FEthDst}},
			ofp.SetField{Field: ofp.EthSrc(mac("fa:16:3e:aa:bb:cc"))},
			ofp.SetField{Field: ofp.ARPOp(2)},
			ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPSHA}, Dst: ofp.FieldRef{Kind: ofp.FARPTHA}},
			ofp.SetField{Field: ofp.ARPSHA(mac("fa:16:3e:aa:bb:cc"))},
			ofp.Move{Src: ofp.FieldRef{Kind: ofp.FARPSPA}, Dst: ofp.FieldRef{Kind: ofp.FARPTPA}},
			ofp.SetField{Field: ofp.ARPSPA(pfx("10.0.0.1/32"))},
			ofp.SetField{Field: ofp.Field{Kind: ofp.FARPTHA, MAC: mac("fa:16:3e:00:00:05")}},
			ofp.SetField{Field: ofp.ARPTPA(pfx("10.0.0.5/32"))},
			ofp.OutputInPort{}}},
		"cookie=0x1000000000000002, table=10, priority=200,arp,reg3=0x7,reg15=0x10/0xf0,arp_spa=10.0.0.0/24,arp_tpa=10.0.0.1,arp_op=1,arp_sha=fa:16:3e:00:00:05,arp_tha=00:00:00:00:00:00 " +
			"actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:fa:16:3e:aa:bb:cc->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:fa:16:3e:aa:bb:cc->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.1->arp_spa,set_field:fa:16:3e:00:00:05->arp_tha,set_field:10.0.0.5->arp_tpa,IN_PORT"},
	{ofp.Flow{Table: 20, Priority: 100, Cookie: 0x2000000000000001,
		Match: []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoTCP), ofp.IPSrc(pfx("10.0.0.0/8")),
			ofp.IPDst(pfx("10.1.2.3/32")), ofp.TCPSrc(1024, 0xfc00), ofp.TCPDst(80, 0), ofp.CTState(ofp.CTTrk|ofp.CTNew, ofp.CTTrk|ofp.CTNew|ofp.CTInv),
			ofp.CTZone(5), ofp.CTMark(1, 0)},
		Actions: []ofp.Action{ofp.CT{Commit: true, ZoneReg: -1, Zone: 5, Table: -1, SetMark: u32(0x10)}, ofp.Goto{Table: 30}}},
		"cookie=0x2000000000000001, table=20, priority=100,ct_state=+new-inv+trk,ct_zone=5,ct_mark=0x1,tcp,nw_src=10.0.0.0/8,nw_dst=10.1.2.3,tp_src=0x400/0xfc00,tp_dst=80 " +
			"actions=ct(commit,zone=5,exec(set_field:0x10->ct_mark)),goto_table:30"},
	{ofp.Flow{Table: 20, Priority: 90, Cookie: 0x2000000000000001,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP), ofp.UDPSrc(68, 0), ofp.UDPDst(67, 0), ofp.CTState(0, ofp.CTTrk), ofp.CTMark(0x2, 0xf)},
		Actions: []ofp.Action{ofp.CT{ZoneReg: 6, Table: 21}}},
		"cookie=0x2000000000000001, table=20, priority=90,ct_state=-trk,ct_mark=0x2/0xf,udp,tp_src=68,tp_dst=67 actions=ct(table=21,zone=NXM_NX_REG6[0..15])"},
	{ofp.Flow{Table: 21, Priority: 100, Cookie: 0x2000000000000002,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPDst(pfx("203.0.113.10/32"))},
		Actions: []ofp.Action{ofp.CT{ZoneReg: -1, Zone: 7, Table: 22, NAT: &ofp.NAT{}}}},
		"cookie=0x2000000000000002, table=21, priority=100,ip,nw_dst=203.0.113.10 actions=ct(table=22,zone=7,nat)"},
	{ofp.Flow{Table: 22, Priority: 100, Cookie: 0x2000000000000002,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.CTState(ofp.CTTrk|ofp.CTNew, ofp.CTTrk|ofp.CTNew)},
		Actions: []ofp.Action{ofp.CT{Commit: true, ZoneReg: -1, Zone: 7, Table: 23, NAT: &ofp.NAT{Addr: ip("10.0.0.11")}}}},
		"cookie=0x2000000000000002, table=22, priority=100,ct_state=+new+trk,ip actions=ct(commit,table=23,zone=7,nat(dst=10.0.0.11))"},
	{ofp.Flow{Table: 22, Priority: 90, Cookie: 0x2000000000000002,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(pfx("10.0.0.11/32")), ofp.CTState(ofp.CTTrk|ofp.CTNew, ofp.CTTrk|ofp.CTNew)},
		Actions: []ofp.Action{ofp.CT{Commit: true, ZoneReg: -1, Zone: 7, Table: 23, NAT: &ofp.NAT{SNAT: true, Addr: ip("203.0.113.10")}}}},
		"cookie=0x2000000000000002, table=22, priority=90,ct_state=+new+trk,ip,nw_src=10.0.0.11 actions=ct(commit,table=23,zone=7,nat(src=203.0.113.10))"},
	{ofp.Flow{Table: 22, Priority: 80, Cookie: 0x2000000000000002,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv6), ofp.IPSrc(pfx("2001:db8::/32")), ofp.IPDst(pfx("2001:db8::1/128"))},
		Actions: []ofp.Action{ofp.CT{Commit: true, ZoneReg: -1, Zone: 8, Table: -1, NAT: &ofp.NAT{SNAT: true, Addr: ip("2001:db8::99")}}}},
		"cookie=0x2000000000000002, table=22, priority=80,ipv6,ipv6_src=2001:db8::/32,ipv6_dst=2001:db8::1 actions=ct(commit,zone=8,nat(src=2001:db8::99))"},
	{ofp.Flow{Table: 30, Priority: 100, Cookie: 0x3000000000000001,
		Match: []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.EthDst(mac("fa:16:3e:00:00:01")), ofp.EthSrc(mac("fa:16:3e:00:00:02")),
			{Kind: ofp.FIPTTL, Value: 64}, ofp.IPProto(ofp.ProtoICMP), ofp.ICMPType(8), {Kind: ofp.FICMPCode, Value: 0}},
		Actions: []ofp.Action{ofp.DecTTL{}, ofp.SetField{Field: ofp.EthSrc(mac("fa:16:3e:00:00:10"))}, ofp.SetField{Field: ofp.EthDst(mac("fa:16:3e:00:00:11"))},
			ofp.SetField{Field: ofp.IPSrc(pfx("10.9.9.9/32"))}, ofp.SetField{Field: ofp.IPDst(pfx("10.8.8.8/32"))}, ofp.Output{Port: 1}}},
		"cookie=0x3000000000000001, table=30, priority=100,icmp,dl_src=fa:16:3e:00:00:02,dl_dst=fa:16:3e:00:00:01,nw_ttl=64,icmp_type=8,icmp_code=0 " +
			"actions=dec_ttl,set_field:fa:16:3e:00:00:10->eth_src,set_field:fa:16:3e:00:00:11->eth_dst,set_field:10.9.9.9->ip_src,set_field:10.8.8.8->ip_dst,output:1"},
	{ofp.Flow{Table: 30, Priority: 90, Cookie: 0x3000000000000001,
		Match: []ofp.Field{ofp.EthDstMasked(mac("01:00:00:00:00:00"), mac("01:00:00:00:00:00")), ofp.Reg(0, 1)},
		Actions: []ofp.Action{ofp.SetField{Field: ofp.TunID(0x64)}, ofp.SetField{Field: ofp.Field{Kind: ofp.FTunIPv4Dst, Prefix: pfx("192.0.2.2/32")}}, ofp.Output{Port: 1},
			ofp.Move{Src: ofp.FieldRef{Kind: ofp.FReg, Index: 1, Start: 0, Bits: 16}, Dst: ofp.FieldRef{Kind: ofp.FTunID, Start: 8, Bits: 16}}, ofp.OutputReg{Reg: 2}}},
		"cookie=0x3000000000000001, table=30, priority=90,reg0=0x1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 " +
			"actions=set_field:0x64->tun_id,set_field:192.0.2.2->tun_dst,output:1,move:NXM_NX_REG1[0..15]->NXM_NX_TUN_ID[8..23],output:NXM_NX_REG2[]"},
	{ofp.Flow{Table: 40, Priority: 100, Cookie: 0x4000000000000001,
		Match: []ofp.Field{ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6), ofp.ICMPv6Type(135), {Kind: ofp.FICMPv6Code, Value: 0},
			ofp.NDTarget(ip("2001:db8::1")), {Kind: ofp.FNDSLL, MAC: mac("fa:16:3e:00:00:01")}},
		Actions: []ofp.Action{ofp.Controller{ID: 7, Reason: 1, UserData: []byte{0xde, 0xad, 0xbe, 0xef}}}},
		"cookie=0x4000000000000001, table=40, priority=100,icmp6,icmp_type=135,icmp_code=0,nd_target=2001:db8::1,nd_sll=fa:16:3e:00:00:01 actions=controller(id=7,userdata=de.ad.be.ef)"},
	{ofp.Flow{Table: 40, Priority: 90, Cookie: 0x4000000000000001,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv6), ofp.IPProto(ofp.ProtoICMPv6), ofp.ICMPv6Type(136), {Kind: ofp.FNDTLL, MAC: mac("fa:16:3e:00:00:02")}},
		Actions: []ofp.Action{ofp.Controller{ID: 7, Reason: 1}}},
		"cookie=0x4000000000000001, table=40, priority=90,icmp6,icmp_type=136,nd_tll=fa:16:3e:00:00:02 actions=controller(id=7)"},
	{ofp.Flow{Table: 50, Priority: 100, Cookie: 0x5000000000000001,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(pfx("10.0.0.5/32"))},
		Actions: []ofp.Action{ofp.Conjunction{ID: 9, Clause: 1, N: 2}}},
		"cookie=0x5000000000000001, table=50, priority=100,ip,nw_src=10.0.0.5 actions=conjunction(9,1/2)"},
	{ofp.Flow{Table: 50, Priority: 100, Cookie: 0x5000000000000001,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP), ofp.UDPDst(53, 0)},
		Actions: []ofp.Action{ofp.Conjunction{ID: 9, Clause: 2, N: 2}}},
		"cookie=0x5000000000000001, table=50, priority=100,udp,tp_dst=53 actions=conjunction(9,2/2)"},
	{ofp.Flow{Table: 50, Priority: 0, Cookie: 0x5000000000000002},
		"cookie=0x5000000000000002, table=50, priority=0 actions=drop"},
	{ofp.Flow{Table: 60, Priority: 100, Cookie: 0x5000000000000002,
		Match:   []ofp.Field{ofp.InPort(1), ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoUDP), ofp.UDPSrc(0x1000, 0xf000), ofp.IPSrc(pfx("10.0.0.0/16"))},
		Actions: []ofp.Action{ofp.SetField{Field: ofp.InPort(2)}, ofp.Output{Port: 2}}},
		"cookie=0x5000000000000002, table=60, priority=100,udp,in_port=1,nw_src=10.0.0.0/16,tp_src=0x1000/0xf000 actions=set_field:2->in_port,output:2"},
	{ofp.Flow{Table: 50, Priority: 110, Cookie: 0x5000000000000001,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoICMP), ofp.ConjID(9)},
		Actions: []ofp.Action{ofp.SetField{Field: ofp.ICMPType(0)}, ofp.Goto{Table: 60}}},
		"cookie=0x5000000000000001, table=50, priority=110,conj_id=9,icmp actions=set_field:0->icmp_type,goto_table:60"},
	{ofp.Flow{Table: 22, Priority: 95, Cookie: 0x2000000000000002,
		Match:   []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPProto(ofp.ProtoTCP), ofp.TCPDst(2222, 0), ofp.CTState(ofp.CTNew|ofp.CTTrk, ofp.CTNew|ofp.CTTrk)},
		Actions: []ofp.Action{ofp.CT{Commit: true, ZoneReg: -1, Zone: 7, Table: 23, NAT: &ofp.NAT{Addr: ip("10.0.0.11"), Port: 22}}}},
		"cookie=0x2000000000000002, table=22, priority=95,ct_state=+new+trk,tcp,tp_dst=2222 actions=ct(commit,table=23,zone=7,nat(dst=10.0.0.11:22))"},
}
