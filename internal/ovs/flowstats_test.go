package ovs_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

// TestFlowStats counts packets sent through a flow by packet-out and reads
// them back per flow, told apart by their ipv4_dst match.
func TestFlowStats(t *testing.T) {
	_, c, ctx := startOF(t)
	dst := netip.MustParseAddr("203.0.113.7")
	flows := []ofp.Flow{
		{Table: 1, Priority: 100, Cookie: 0x6777000000000001, Match: []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPDst(pfx("203.0.113.7/32"))}},
		{Table: 1, Priority: 100, Cookie: 0x6777000000000001, Match: []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPDst(pfx("203.0.113.8/32"))}},
		{Table: 1, Priority: 0, Cookie: 0x1},
		{Table: 2, Priority: 0, Cookie: 0x6777000000000001},
	}
	if err := c.Bundle(ctx, flows, nil, nil); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 60)
	copy(frame, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00})
	ipHdr := []byte{0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 1}
	copy(frame[14:], ipHdr)
	copy(frame[30:], dst.AsSlice())
	const sent = 3
	for range sent {
		if err := c.PacketOut(ovs.PortController, []ofp.Action{ofp.Resubmit{Table: 1}}, frame); err != nil {
			t.Fatal(err)
		}
	}
	var got []ovs.FlowStat
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		got, err = c.FlowStats(ctx, 1, 0x6777000000000000, 0xffff000000000000)
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(0)
		for _, s := range got {
			if s.IPv4Dst == dst {
				n = s.Packets
			}
		}
		if n == sent || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(got) != 2 {
		t.Fatalf("FlowStats(table 1, cookie 0x6777/0xffff) = %+v, want the 2 floating-IP flows", got)
	}
	for _, s := range got {
		want := uint64(0)
		if s.IPv4Dst == dst {
			want = sent
		}
		if s.Table != 1 || s.Priority != 100 || s.Packets != want || (want > 0 && s.Bytes != 60*sent) {
			t.Errorf("flow %s: %+v, want %d packets", s.IPv4Dst, s, want)
		}
	}
}
