package ovs

import (
	"bytes"
	"testing"
)

func TestParsePacketIn(t *testing.T) {
	// OFPT_PACKET_IN (OF1.3): buffer_id, total_len, reason, table, cookie,
	// match {in_port=3, reg2=0x22}, pad, frame.
	frame := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06}
	msg := appendHeader(nil, ofptPacketIn, 9)
	msg = be.AppendUint32(msg, noBuffer)
	msg = be.AppendUint16(msg, uint16(len(frame)))
	msg = append(msg, 1, 30)
	msg = be.AppendUint64(msg, 0xc0c0)
	ms := len(msg)
	msg = be.AppendUint16(msg, 1)
	msg = be.AppendUint16(msg, 4+8+8)
	msg = be.AppendUint32(msg, oxmFields[0].header(false))
	msg = be.AppendUint32(msg, 3)
	msg = be.AppendUint32(msg, fieldInfo{oxmClassNXM1, 2, 4}.header(false))
	msg = be.AppendUint32(msg, 0x22)
	msg = pad8(msg, ms)
	msg = append(msg, 0, 0)
	msg = append(msg, frame...)
	msg, _ = finish(msg, 0)
	pi, err := parsePacketIn(msg)
	if err != nil {
		t.Fatal(err)
	}
	if pi.InPort != 3 || pi.Regs[2] != 0x22 || pi.TableID != 30 || pi.Reason != 1 || pi.Cookie != 0xc0c0 ||
		!bytes.Equal(pi.Data, frame) || pi.TotalLen != uint32(len(frame)) {
		t.Errorf("%+v", pi)
	}
}

func TestParsePacketIn2(t *testing.T) {
	msg := appendNXT(nil, 0, nxtPacketIn2)
	prop := func(typ uint16, v []byte) {
		s := len(msg)
		msg = be.AppendUint16(msg, typ)
		msg = be.AppendUint16(msg, uint16(4+len(v)))
		msg = append(msg, v...)
		msg = pad8(msg, s)
	}
	prop(nxpintPacket, []byte("frame"))
	prop(nxpintTableID, []byte{7})
	prop(nxpintCookie, append([]byte{0, 0, 0, 0}, be.AppendUint64(nil, 0xbeef)...))
	prop(nxpintReason, []byte{1})
	var md []byte
	md = be.AppendUint32(md, uint32(0x8001)<<16|1<<9|8) // OXM_OF_PKT_REG1 = reg2:reg3
	md = be.AppendUint64(md, 0x0000000200000003)
	md = be.AppendUint32(md, uint32(oxmClassNXM0)<<16|0<<9|2) // NXM_OF_IN_PORT
	md = be.AppendUint16(md, 65534)
	prop(nxpintMetadata, md)
	prop(nxpintUserdata, []byte{0xab})
	msg, _ = finish(msg, 0)
	pi, err := parsePacketIn2(msg)
	if err != nil {
		t.Fatal(err)
	}
	if string(pi.Data) != "frame" || pi.TableID != 7 || pi.Cookie != 0xbeef || pi.Reason != 1 ||
		pi.Regs[2] != 2 || pi.Regs[3] != 3 || pi.InPort != 65534 || !bytes.Equal(pi.UserData, []byte{0xab}) || pi.TotalLen != 5 {
		t.Errorf("%+v", pi)
	}
	if _, err := parsePacketIn2(append(appendNXT(nil, 0, nxtPacketIn2), 0, 1, 0, 99)); err == nil {
		t.Error("bad property length accepted")
	}
}

// OVS reports reg5 (the pipeline's in-port key) either as NXM_NX_REG5 or
// inside OXM_OF_PKT_REG2 (reg4 high, reg5 low).
func TestParsePacketInReg5(t *testing.T) {
	for _, md := range [][]byte{
		be.AppendUint32(be.AppendUint32(nil, uint32(oxmClassNXM1)<<16|5<<9|4), 0x0a),
		be.AppendUint64(be.AppendUint32(nil, uint32(0x8001)<<16|2<<9|8), 0x000000000000000a),
	} {
		var pi PacketIn
		parseOXMs(md, &pi)
		if pi.Regs[5] != 0x0a || pi.Regs[4] != 0 {
			t.Errorf("%x: regs %v", md, pi.Regs)
		}
	}
}
