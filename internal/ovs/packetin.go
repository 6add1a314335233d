package ovs

import (
	"errors"
	"fmt"
)

// PacketIn is a packet the switch sent to this controller.
type PacketIn struct {
	TableID uint8
	Cookie  uint64
	// Reason is the OpenFlow reason: 0 no match, 1 action, 2 invalid TTL.
	Reason uint8
	InPort uint32
	// Metadata, TunID and Regs are the pipeline fields at the time of the
	// packet-in (zero when OVS did not report them, i.e. when zero).
	Metadata uint64
	TunID    uint64
	Regs     [16]uint32
	// UserData is the controller action's userdata.
	UserData []byte
	// TotalLen is the packet's full length; Data holds the packet
	// (complete: the connection asks for no buffering).
	TotalLen uint32
	Data     []byte
}

// NXT_PACKET_IN2 property types.
const (
	nxpintPacket   = 0
	nxpintFullLen  = 1
	nxpintTableID  = 3
	nxpintCookie   = 4
	nxpintReason   = 5
	nxpintMetadata = 6
	nxpintUserdata = 7
)

func parsePacketIn2(msg []byte) (PacketIn, error) {
	var pi PacketIn
	body := msg[16:]
	for len(body) > 0 {
		if len(body) < 4 {
			return pi, errors.New("short property")
		}
		typ, n := be.Uint16(body), int(be.Uint16(body[2:]))
		if n < 4 || n > len(body) {
			return pi, fmt.Errorf("bad property length %d", n)
		}
		v := body[4:n]
		switch typ {
		case nxpintPacket:
			pi.Data = append([]byte(nil), v...)
		case nxpintFullLen:
			if len(v) >= 4 {
				pi.TotalLen = be.Uint32(v)
			}
		case nxpintTableID:
			if len(v) >= 1 {
				pi.TableID = v[0]
			}
		case nxpintCookie:
			// 4 bytes of padding precede the 64-bit cookie.
			if len(v) >= 12 {
				pi.Cookie = be.Uint64(v[4:])
			} else if len(v) >= 8 {
				pi.Cookie = be.Uint64(v)
			}
		case nxpintReason:
			if len(v) >= 1 {
				pi.Reason = v[0]
			}
		case nxpintMetadata:
			parseOXMs(v, &pi)
		case nxpintUserdata:
			pi.UserData = append([]byte(nil), v...)
		}
		adv := (n + 7) &^ 7
		if adv > len(body) {
			adv = len(body)
		}
		body = body[adv:]
	}
	if pi.TotalLen == 0 {
		pi.TotalLen = uint32(len(pi.Data))
	}
	return pi, nil
}

// parsePacketIn parses a standard OpenFlow 1.3 OFPT_PACKET_IN.
func parsePacketIn(msg []byte) (PacketIn, error) {
	var pi PacketIn
	if len(msg) < 32 {
		return pi, errors.New("short packet-in")
	}
	pi.TotalLen = uint32(be.Uint16(msg[12:]))
	pi.Reason, pi.TableID = msg[14], msg[15]
	pi.Cookie = be.Uint64(msg[16:])
	mlen := int(be.Uint16(msg[26:]))
	padded := (mlen + 7) &^ 7
	if mlen < 4 || 24+padded+2 > len(msg) {
		return pi, errors.New("bad packet-in match")
	}
	parseOXMs(msg[28:24+mlen], &pi)
	pi.Data = append([]byte(nil), msg[24+padded+2:]...)
	return pi, nil
}

// parseOXMs reads the pipeline fields a packet-in reports.
func parseOXMs(b []byte, pi *PacketIn) {
	for len(b) >= 4 {
		h := be.Uint32(b)
		class, field, masked, n := uint16(h>>16), uint8(h>>9&0x7f), h&0x100 != 0, int(h&0xff)
		if 4+n > len(b) {
			return
		}
		v := b[4 : 4+n]
		if masked {
			v = v[:n/2]
		}
		switch {
		case class == oxmClassBasic && field == 0 && len(v) == 4:
			pi.InPort = be.Uint32(v)
		case class == oxmClassBasic && field == 2 && len(v) == 8:
			pi.Metadata = be.Uint64(v)
		case class == oxmClassBasic && field == 38 && len(v) == 8:
			pi.TunID = be.Uint64(v)
		case class == oxmClassNXM0 && field == 0 && len(v) == 2:
			pi.InPort = uint32(be.Uint16(v))
		case class == oxmClassNXM1 && field == 16 && len(v) == 8:
			pi.TunID = be.Uint64(v)
		case class == oxmClassNXM1 && field < 16 && len(v) == 4:
			pi.Regs[field] = be.Uint32(v)
		case class == 0x8001 && field < 8 && len(v) == 8: // OXM_OF_PKT_REG<n>: xreg n = reg 2n (high), 2n+1 (low)
			pi.Regs[2*field] = be.Uint32(v)
			pi.Regs[2*field+1] = be.Uint32(v[4:])
		}
		b = b[4+n:]
	}
}
