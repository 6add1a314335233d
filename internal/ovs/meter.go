package ovs

import (
	"context"
	"errors"
	"fmt"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// OpenFlow 1.3 meters (OFPT_METER_MOD): one drop band in kbps with a
// burst. The userspace datapath implements them (dpif-netdev), as it
// does not implement the kernel's tc policing on its ports.

const (
	ofptMeterMod = 29

	ofpmcAdd    = 0
	ofpmcModify = 1
	ofpmcDelete = 2

	ofpmfKbps  = 1
	ofpmfBurst = 4
	ofpmfStats = 8

	ofpmbtDrop = 1

	// ofpmmfcMeterExists is METER_MOD_FAILED's code for an add of an
	// existing meter.
	ofpmmfcMeterExists  = 1
	ofpetMeterModFailed = 12
)

// appendMeterMod appends a meter mod; a delete carries no band.
func appendMeterMod(b []byte, xid uint32, cmd uint16, m ofp.MeterConfig) []byte {
	start := len(b)
	b = appendHeader(b, ofptMeterMod, xid)
	b = be.AppendUint16(b, cmd)
	b = be.AppendUint16(b, ofpmfKbps|ofpmfBurst|ofpmfStats)
	b = be.AppendUint32(b, m.ID)
	if cmd != ofpmcDelete {
		b = be.AppendUint16(b, ofpmbtDrop)
		b = be.AppendUint16(b, 16)
		b = be.AppendUint32(b, m.RateKbps)
		b = be.AppendUint32(b, m.BurstKbits)
		b = append(b, 0, 0, 0, 0)
	}
	b, _ = finish(b, start)
	return b
}

// meterMod sends one meter mod and waits for the switch to have done it.
func (c *OFConn) meterMod(ctx context.Context, cmd uint16, m ofp.MeterConfig) error {
	xid := c.nextXID()
	msg := appendMeterMod(nil, xid, cmd, m)
	bxid := c.nextXID()
	msg, _ = finish(appendHeader(msg, ofptBarrierReq, bxid), len(msg))
	var modErr error
	p := c.register(xid, func(typ uint8, m []byte) (bool, error) {
		modErr = parseError(m)
		return true, nil
	})
	defer c.unregister(xid)
	if err := c.request(ctx, bxid, msg, nil); err != nil {
		return err
	}
	select {
	case <-p.result: // the error came before the barrier reply
		return modErr
	default:
		return nil
	}
}

// SetMeter installs meter m, or changes the meter with its id to m.
func (c *OFConn) SetMeter(ctx context.Context, m ofp.MeterConfig) error {
	err := c.meterMod(ctx, ofpmcAdd, m)
	var oe *OFError
	if errors.As(err, &oe) && oe.Type == ofpetMeterModFailed && oe.Code == ofpmmfcMeterExists {
		err = c.meterMod(ctx, ofpmcModify, m)
	}
	if err != nil {
		return fmt.Errorf("set %s: %w", m, err)
	}
	return nil
}

// DeleteMeter deletes a meter, and with it every flow that uses it.
func (c *OFConn) DeleteMeter(ctx context.Context, id uint32) error {
	if err := c.meterMod(ctx, ofpmcDelete, ofp.MeterConfig{ID: id}); err != nil {
		return fmt.Errorf("delete meter %d: %w", id, err)
	}
	return nil
}
