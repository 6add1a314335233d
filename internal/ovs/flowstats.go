package ovs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// FlowStat is one flow's counters (OpenFlow 1.3 flow stats), with the
// match fields a caller can tell flows apart by.
type FlowStat struct {
	Table    uint8
	Priority uint16
	Cookie   uint64
	Packets  uint64
	Bytes    uint64
	// IPv4Dst and IPv4Src are the flow's exact ipv4_dst and ipv4_src
	// matches, when it has them.
	IPv4Dst, IPv4Src netip.Addr
}

// FlowStats returns the counters of every flow of table whose cookie
// matches cookie under mask (mask 0: every flow of the table).
func (c *OFConn) FlowStats(ctx context.Context, table uint8, cookie, mask uint64) ([]FlowStat, error) {
	var out []FlowStat
	err := c.eachFlowStat(ctx, table, cookie, mask, func(e []byte) { out = append(out, parseFlowStat(e)) })
	if err != nil {
		return nil, fmt.Errorf("flow stats of table %d: %w", table, err)
	}
	return out, nil
}

// eachFlowStat sends one multipart flow stats request (table, or ofpttAll;
// cookie under mask) and calls each with every ofp_flow_stats entry of the
// replies (at least 56 bytes), until the last reply.
func (c *OFConn) eachFlowStat(ctx context.Context, table uint8, cookie, mask uint64, each func(entry []byte)) error {
	xid := c.nextXID()
	b := appendHeader(nil, ofptMultipartReq, xid)
	b = be.AppendUint16(b, ofpmpFlow)
	b = be.AppendUint16(b, 0)
	b = append(b, 0, 0, 0, 0)
	b = append(b, table, 0, 0, 0)
	b = be.AppendUint32(b, ofppAny)
	b = be.AppendUint32(b, ofpgAny)
	b = append(b, 0, 0, 0, 0)
	b = be.AppendUint64(b, cookie)
	b = be.AppendUint64(b, mask)
	b, _ = AppendMatch(b, nil)
	b, _ = finish(b, 0)
	return c.request(ctx, xid, b, func(typ uint8, m []byte) (bool, error) {
		if typ == ofptError {
			return true, parseError(m)
		}
		if typ != ofptMultipartReply || len(m) < 16 {
			return true, fmt.Errorf("flow stats: unexpected message type %d", typ)
		}
		flags := be.Uint16(m[10:])
		body := m[16:]
		for len(body) > 0 {
			if len(body) < 56 {
				return true, errors.New("flow stats: short entry")
			}
			n := int(be.Uint16(body))
			if n < 56 || n > len(body) {
				return true, fmt.Errorf("flow stats: bad entry length %d", n)
			}
			each(body[:n])
			body = body[n:]
		}
		return flags&ofpmpfReplyMore == 0, nil
	})
}

// parseFlowStat reads one ofp_flow_stats entry (at least 56 bytes).
func parseFlowStat(e []byte) FlowStat {
	s := FlowStat{Table: e[2], Priority: be.Uint16(e[12:]), Cookie: be.Uint64(e[24:]),
		Packets: be.Uint64(e[32:]), Bytes: be.Uint64(e[40:])}
	// The match: type, length (of type, length and OXMs), the OXMs.
	mlen := int(be.Uint16(e[50:]))
	if mlen < 4 || 48+mlen > len(e) {
		return s
	}
	oxms := e[52 : 48+mlen]
	for len(oxms) >= 4 {
		h := be.Uint32(oxms)
		class, field, masked, n := uint16(h>>16), uint8(h>>9&0x7f), h&0x100 != 0, int(h&0xff)
		if 4+n > len(oxms) {
			break
		}
		v := oxms[4 : 4+n]
		if class == oxmClassBasic && !masked && len(v) == 4 {
			switch field {
			case 11:
				s.IPv4Src = netip.AddrFrom4([4]byte(v))
			case 12:
				s.IPv4Dst = netip.AddrFrom4([4]byte(v))
			}
		}
		oxms = oxms[4+n:]
	}
	return s
}
