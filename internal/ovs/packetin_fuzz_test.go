package ovs

import "testing"

// FuzzParsePacketIn feeds the packet-in parsers what a switch could send
// after the connection's framing: an OFPT_PACKET_IN, or an NXT_PACKET_IN2
// (what dispatch hands them), with any body. They may refuse it, never
// panic, and what they return stays within the message.
func FuzzParsePacketIn(f *testing.F) {
	frame := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06}
	// A standard packet-in body: buffer_id, total_len, reason, table,
	// cookie, match {in_port=3}, pad, frame.
	std := be.AppendUint32(nil, noBuffer)
	std = be.AppendUint16(std, uint16(len(frame)))
	std = append(std, 1, 30)
	std = be.AppendUint64(std, 0xc0c0)
	std = be.AppendUint16(std, 1)
	std = be.AppendUint16(std, 4+8)
	std = be.AppendUint32(std, oxmFields[0].header(false))
	std = be.AppendUint32(std, 3)
	std = append(std, 0, 0, 0, 0, 0, 0)
	std = append(append(std, 0, 0), frame...)
	f.Add(false, std)
	// A packet-in2 body: the packet property and a table id property.
	nx := be.AppendUint16(nil, nxpintPacket)
	nx = be.AppendUint16(nx, uint16(4+len(frame)))
	nx = append(nx, frame...)
	nx = append(nx, 0, 0)
	nx = be.AppendUint16(nx, nxpintTableID)
	nx = be.AppendUint16(nx, 5)
	nx = append(nx, 7, 0, 0, 0)
	f.Add(true, nx)
	f.Add(true, []byte{0, 1, 0, 99})
	f.Add(false, []byte{})
	f.Fuzz(func(t *testing.T, nxt bool, body []byte) {
		var msg []byte
		if nxt {
			msg = appendNXT(nil, 0, nxtPacketIn2)
		} else {
			msg = appendHeader(nil, ofptPacketIn, 9)
		}
		msg = append(msg, body...)
		if len(msg) > 0xffff {
			return // not framable: the length field is 16 bits
		}
		msg, _ = finish(msg, 0)
		var pi PacketIn
		var err error
		if nxt {
			pi, err = parsePacketIn2(msg)
		} else {
			pi, err = parsePacketIn(msg)
		}
		if err == nil && len(pi.Data) > len(msg) {
			t.Fatalf("packet of %d bytes from a message of %d", len(pi.Data), len(msg))
		}
	})
}
