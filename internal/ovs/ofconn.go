package ovs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Keepalive timing of an OFConn: an echo request every echoInterval; the
// connection fails when nothing has been received for echoTimeout.
const (
	echoInterval = 5 * time.Second
	echoTimeout  = 3 * echoInterval
)

// Nicira and ONF experimenter message subtypes.
const (
	nxtSetPacketInFormat = 16
	nxtSetControllerID   = 20
	nxtPacketIn2         = 30
	nxpifNXTPacketIn2    = 2

	onfBundleControl = 2300
	onfBundleAdd     = 2301

	bundleOpenRequest   = 0
	bundleOpenReply     = 1
	bundleCloseRequest  = 2
	bundleCloseReply    = 3
	bundleCommitRequest = 4
	bundleCommitReply   = 5
	bundleDiscardReq    = 6
	bundleDiscardReply  = 7
	bundleFlagsAtomic   = 1
	bundleFlagsOrdered  = 2

	ofpmpFlow       = 1
	ofpmpfReplyMore = 1
)

// OFConn is an OpenFlow 1.3 connection to one bridge, over its management
// socket. It answers echo requests, sends its own as a keepalive, and
// reports the end of the connection through Done and Err; reconnecting is
// the caller's business (Dial again). All methods are safe for concurrent
// use.
type OFConn struct {
	conn net.Conn
	log  *slog.Logger
	dpid uint64

	wmu sync.Mutex // serialises writes

	xid      atomic.Uint32
	bundleID atomic.Uint32
	lastRecv atomic.Int64

	mu      sync.Mutex
	pending map[uint32]*pending
	bundles map[*bundleState]struct{}
	err     error

	packetIns chan PacketIn
	done      chan struct{}
	closeOnce sync.Once
}

// pending is a request waiting for its reply. handle runs on the reader
// goroutine for every message with the request's xid and says when the
// request is complete.
type pending struct {
	handle func(typ uint8, msg []byte) (done bool, err error)
	result chan error
}

// bundleState collects the errors OVS reports for messages of a bundle
// (xids lo..hi).
type bundleState struct {
	lo, hi uint32
	errs   map[uint32]*OFError
}

// Dial connects to a bridge's management socket (a path, with or without
// "unix:"), negotiates OpenFlow 1.3 and prepares the connection for
// packet-ins (NXT_PACKET_IN2 format, full packets). log may be nil.
func Dial(ctx context.Context, socketPath string, log *slog.Logger) (*OFConn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := strings.TrimPrefix(socketPath, "unix:")
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("openflow dial %s: %w", path, err)
	}
	c := &OFConn{
		conn: conn, log: log.With("bridge_socket", path),
		pending: map[uint32]*pending{}, bundles: map[*bundleState]struct{}{},
		packetIns: make(chan PacketIn, 1024), done: make(chan struct{}),
	}
	if err := c.handshake(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("openflow handshake %s: %w", path, err)
	}
	c.lastRecv.Store(time.Now().UnixNano())
	go c.readLoop(bufio.NewReaderSize(conn, 1<<16))
	go c.keepalive()

	// Service (management socket) connections get no asynchronous
	// messages until they set a miss_send_len; then ask for
	// NXT_PACKET_IN2, which carries the controller action's userdata.
	var b []byte
	b = appendHeader(b, ofptSetConfig, c.nextXID())
	b = be.AppendUint16(b, 0)
	b = be.AppendUint16(b, ofpcmlNoBuffer)
	b, _ = finish(b, 0)
	s := len(b)
	b = appendNXT(b, c.nextXID(), nxtSetPacketInFormat)
	b = be.AppendUint32(b, nxpifNXTPacketIn2)
	b, _ = finish(b, s)
	if err := c.write(b); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Barrier(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("openflow set-up: %w", err)
	}
	return c, nil
}

// handshake exchanges HELLO and FEATURES synchronously, before the reader
// goroutine starts.
func (c *OFConn) handshake(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
		defer c.conn.SetDeadline(time.Time{})
	}
	hello, _ := finish(appendHeader(nil, ofptHello, c.nextXID()), 0)
	freq, _ := finish(appendHeader(nil, ofptFeaturesReq, c.nextXID()), 0)
	if _, err := c.conn.Write(append(hello, freq...)); err != nil {
		return err
	}
	r := bufio.NewReader(c.conn)
	for {
		msg, err := readMsg(r)
		if err != nil {
			return err
		}
		switch msg[1] {
		case ofptHello:
			if msg[0] < ofpVersion {
				return fmt.Errorf("switch speaks OpenFlow version %d only (enable OpenFlow13 on the bridge)", msg[0])
			}
		case ofptError:
			return parseError(msg)
		case ofptFeaturesReply:
			if len(msg) < 16 {
				return errors.New("short features reply")
			}
			c.dpid = be.Uint64(msg[8:])
			if r.Buffered() > 0 {
				return errors.New("unexpected messages during handshake")
			}
			return nil
		}
	}
}

func readMsg(r *bufio.Reader) ([]byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(be.Uint16(h[2:]))
	if n < 8 {
		return nil, fmt.Errorf("bad OpenFlow message length %d", n)
	}
	msg := make([]byte, n)
	copy(msg, h[:])
	if _, err := io.ReadFull(r, msg[8:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// Done is closed when the connection has ended; Err then says why.
func (c *OFConn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, or nil while it is up.
func (c *OFConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection.
func (c *OFConn) Close() error {
	c.fail(errors.New("openflow connection closed"))
	return nil
}

// PacketIns delivers packet-ins. When the consumer falls behind, packets
// are dropped rather than stalling the connection.
func (c *OFConn) PacketIns() <-chan PacketIn { return c.packetIns }

func (c *OFConn) fail(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		ps := c.pending
		c.pending = map[uint32]*pending{}
		c.mu.Unlock()
		c.conn.Close()
		for _, p := range ps {
			p.complete(err)
		}
		close(c.done)
	})
}

func (c *OFConn) nextXID() uint32 { return c.xid.Add(1) }

// reserveXIDs returns the first of n consecutive xids.
func (c *OFConn) reserveXIDs(n int) uint32 { return c.xid.Add(uint32(n)) - uint32(n) + 1 }

func (c *OFConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return fmt.Errorf("openflow: %w", c.Err())
	default:
	}
	if _, err := c.conn.Write(b); err != nil {
		err = fmt.Errorf("openflow write: %w", err)
		c.fail(err)
		return err
	}
	return nil
}

func (c *OFConn) register(xid uint32, handle func(uint8, []byte) (bool, error)) *pending {
	p := &pending{handle: handle, result: make(chan error, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		p.result <- c.err
		return p
	}
	c.pending[xid] = p
	return p
}

// complete delivers the request's result; only the first one counts (the
// reader and a failing connection may race to complete it).
func (p *pending) complete(err error) {
	select {
	case p.result <- err:
	default:
	}
}

func (c *OFConn) unregister(xid uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, xid)
}

func (c *OFConn) await(ctx context.Context, xid uint32, p *pending) error {
	select {
	case err := <-p.result:
		return err
	case <-ctx.Done():
		c.unregister(xid)
		return ctx.Err()
	}
}

// request writes msg (whose xid is xid) and waits for the reply handled by
// handle; a nil handle completes on the first reply.
func (c *OFConn) request(ctx context.Context, xid uint32, msg []byte, handle func(uint8, []byte) (bool, error)) error {
	if handle == nil {
		handle = func(typ uint8, m []byte) (bool, error) {
			if typ == ofptError {
				return true, parseError(m)
			}
			return true, nil
		}
	}
	p := c.register(xid, handle)
	if err := c.write(msg); err != nil {
		c.unregister(xid)
		return err
	}
	return c.await(ctx, xid, p)
}

// Barrier waits until the switch has processed every message sent before.
func (c *OFConn) Barrier(ctx context.Context) error {
	xid := c.nextXID()
	msg, _ := finish(appendHeader(nil, ofptBarrierReq, xid), 0)
	return c.request(ctx, xid, msg, nil)
}

func appendNXT(b []byte, xid uint32, subtype uint32) []byte {
	b = appendHeader(b, ofptExperimenter, xid)
	b = be.AppendUint32(b, nxVendor)
	return be.AppendUint32(b, subtype)
}

// SetControllerID sets this connection's controller id, so that flows'
// controller(id=N) actions send their packets here.
func (c *OFConn) SetControllerID(ctx context.Context, id uint16) error {
	b := appendNXT(nil, c.nextXID(), nxtSetControllerID)
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = be.AppendUint16(b, id)
	b, _ = finish(b, 0)
	if err := c.write(b); err != nil {
		return err
	}
	// The message has no reply; errors come back before the barrier's.
	if err := c.Barrier(ctx); err != nil {
		return fmt.Errorf("set controller id %d: %w", id, err)
	}
	return nil
}

func (c *OFConn) readLoop(r *bufio.Reader) {
	for {
		msg, err := readMsg(r)
		if err != nil {
			c.fail(fmt.Errorf("openflow read: %w", err))
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		c.dispatch(msg)
	}
}

func (c *OFConn) keepalive() {
	t := time.NewTicker(echoInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, c.lastRecv.Load())) > echoTimeout {
			c.fail(fmt.Errorf("openflow: no message from the switch for %s", echoTimeout))
			return
		}
		msg, _ := finish(appendHeader(nil, ofptEchoRequest, c.nextXID()), 0)
		if err := c.write(msg); err != nil {
			return
		}
	}
}

func (c *OFConn) dispatch(msg []byte) {
	typ, xid := msg[1], be.Uint32(msg[4:])
	switch typ {
	case ofptEchoRequest:
		reply := append([]byte(nil), msg...)
		reply[1] = ofptEchoReply
		_ = c.write(reply)
		return
	case ofptEchoReply:
		return
	case ofptPacketIn:
		if pi, err := parsePacketIn(msg); err == nil {
			c.deliver(pi)
		} else {
			c.log.Warn("openflow: bad packet-in", "err", err)
		}
		return
	case ofptExperimenter:
		if len(msg) >= 16 && be.Uint32(msg[8:]) == nxVendor && be.Uint32(msg[12:]) == nxtPacketIn2 {
			if pi, err := parsePacketIn2(msg); err == nil {
				c.deliver(pi)
			} else {
				c.log.Warn("openflow: bad packet-in2", "err", err)
			}
			return
		}
	}
	c.mu.Lock()
	p := c.pending[xid]
	if p == nil {
		if typ == ofptError {
			for bs := range c.bundles {
				if xid >= bs.lo && xid <= bs.hi {
					var oe *OFError
					if errors.As(parseError(msg), &oe) {
						bs.errs[xid] = oe
					}
					c.mu.Unlock()
					return
				}
			}
		}
		c.mu.Unlock()
		if typ == ofptError {
			c.log.Warn("openflow: error for no pending request", "xid", xid, "err", parseError(msg))
		}
		return
	}
	c.mu.Unlock()
	done, err := p.handle(typ, msg)
	if done || err != nil {
		c.unregister(xid)
		p.complete(err)
	}
}

func (c *OFConn) deliver(pi PacketIn) {
	select {
	case c.packetIns <- pi:
	default: // the consumer is behind: drop
	}
}

// OFError is an OpenFlow error message from the switch.
type OFError struct {
	Type, Code uint16
	// Experimenter is set for experimenter errors (Type 0xffff), whose
	// Code is the experimenter's error type (e.g. ONF bundle errors).
	Experimenter uint32
}

var ofErrorTypes = map[uint16]string{
	0: "HELLO_FAILED", 1: "BAD_REQUEST", 2: "BAD_ACTION", 3: "BAD_INSTRUCTION", 4: "BAD_MATCH",
	5: "FLOW_MOD_FAILED", 6: "GROUP_MOD_FAILED", 7: "PORT_MOD_FAILED", 8: "TABLE_MOD_FAILED",
	9: "QUEUE_OP_FAILED", 10: "SWITCH_CONFIG_FAILED", 11: "ROLE_REQUEST_FAILED", 12: "METER_MOD_FAILED",
	13: "TABLE_FEATURES_FAILED", 0xffff: "EXPERIMENTER",
}

func (e *OFError) Error() string {
	if e.Type == 0xffff {
		if e.Experimenter == onfVendor && e.Code >= 2300 && e.Code <= 2315 {
			return fmt.Sprintf("OpenFlow error: bundle %s", bundleErrNames[e.Code-2300])
		}
		return fmt.Sprintf("OpenFlow error: experimenter 0x%x code %d", e.Experimenter, e.Code)
	}
	name, ok := ofErrorTypes[e.Type]
	if !ok {
		name = fmt.Sprintf("type %d", e.Type)
	}
	return fmt.Sprintf("OpenFlow error: %s code %d", name, e.Code)
}

var bundleErrNames = []string{"UNKNOWN", "EPERM", "BAD_ID", "BUNDLE_EXIST", "BUNDLE_CLOSED",
	"OUT_OF_BUNDLES", "BAD_TYPE", "BAD_FLAGS", "MSG_BAD_LEN", "MSG_BAD_XID", "MSG_UNSUP",
	"MSG_CONFLICT", "MSG_TOO_MANY", "MSG_FAILED", "TIMEOUT", "BUNDLE_IN_PROGRESS"}

func parseError(msg []byte) error {
	if len(msg) < 12 {
		return errors.New("short OpenFlow error message")
	}
	e := &OFError{Type: be.Uint16(msg[8:]), Code: be.Uint16(msg[10:])}
	if e.Type == 0xffff && len(msg) >= 16 {
		e.Experimenter = be.Uint32(msg[12:])
	}
	return e
}

// FlowError is one flow mod of a bundle that the switch refused.
type FlowError struct {
	Command Command
	Flow    ofp.Flow
	Err     *OFError
}

// BundleError reports a bundle that was not applied: nothing of it took
// effect.
type BundleError struct {
	Flows []FlowError // the refused flow mods, when OVS named them
	Err   error       // the error of the bundle itself
}

func (e *BundleError) Error() string {
	var b strings.Builder
	b.WriteString("bundle not applied")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	for i, f := range e.Flows {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Flows)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %v", f.Flow, f.Err)
	}
	return b.String()
}

func (e *BundleError) Unwrap() error { return e.Err }

func appendBundleControl(b []byte, xid, id uint32, typ uint16) []byte {
	s := len(b)
	b = appendHeader(b, ofptExperimenter, xid)
	b = be.AppendUint32(b, onfVendor)
	b = be.AppendUint32(b, onfBundleControl)
	b = be.AppendUint32(b, id)
	b = be.AppendUint16(b, typ)
	b = be.AppendUint16(b, bundleFlagsAtomic|bundleFlagsOrdered)
	b, _ = finish(b, s)
	return b
}

// Bundle applies flow mods atomically through an OpenFlow bundle (the ONF
// extension of OpenFlow 1.3): deletes first, then modifies, then adds;
// either all take effect or none. Deletes are strict (table, priority and
// match); a modify replaces the actions and the cookie of the flow with the
// same key, as does an add of an existing flow. It returns once the switch
// has committed the bundle, or a *BundleError naming the refused flows.
func (c *OFConn) Bundle(ctx context.Context, adds, modifies, deletes []ofp.Flow) error {
	n := len(adds) + len(modifies) + len(deletes)
	if n == 0 {
		return nil
	}
	id := c.bundleID.Add(1)
	base := c.reserveXIDs(n + 2) // open, n adds, close
	// A modify is sent as an add: OpenFlow 1.1+ modify commands never
	// change a flow's cookie, and the cookie carries the generation that
	// a later sweep keys on. An add of an existing flow replaces its
	// actions and cookie and keeps its counters.
	ops := []bundleOp{{CmdDelete, deletes}, {CmdAdd, modifies}, {CmdAdd, adds}}

	// Build every message first: an encoding error sends nothing.
	buf := make([]byte, 0, 24+n*200)
	buf = appendBundleControl(buf, base, id, bundleOpenRequest)
	xid := base
	for _, o := range ops {
		for _, f := range o.flows {
			xid++
			s := len(buf)
			buf = appendHeader(buf, ofptExperimenter, xid)
			buf = be.AppendUint32(buf, onfVendor)
			buf = be.AppendUint32(buf, onfBundleAdd)
			buf = be.AppendUint32(buf, id)
			buf = append(buf, 0, 0)
			buf = be.AppendUint16(buf, bundleFlagsAtomic|bundleFlagsOrdered)
			var err error
			if buf, err = AppendFlowMod(buf, xid, o.cmd, f); err != nil {
				return fmt.Errorf("bundle: %w", err)
			}
			if buf, err = finish(buf, s); err != nil {
				return fmt.Errorf("bundle: %w", err)
			}
		}
	}
	closeXID := xid + 1
	buf = appendBundleControl(buf, closeXID, id, bundleCloseRequest)

	bs := &bundleState{lo: base, hi: closeXID - 1, errs: map[uint32]*OFError{}}
	c.mu.Lock()
	c.bundles[bs] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.bundles, bs)
		c.mu.Unlock()
	}()

	// Open, add and close in one write; the close reply comes after OVS
	// has checked every message.
	if err := c.request(ctx, closeXID, buf, bundleReply(bundleCloseReply)); err != nil {
		return c.bundleFailed(ctx, id, bs, ops, err)
	}
	c.mu.Lock()
	nerr := len(bs.errs)
	c.mu.Unlock()
	if nerr > 0 {
		return c.bundleFailed(ctx, id, bs, ops, nil)
	}
	commitXID := c.nextXID()
	if err := c.request(ctx, commitXID, appendBundleControl(nil, commitXID, id, bundleCommitRequest),
		bundleReply(bundleCommitReply)); err != nil {
		return c.bundleFailed(ctx, 0, bs, ops, err)
	}
	return nil
}

type bundleOp struct {
	cmd   Command
	flows []ofp.Flow
}

// bundleReply handles the reply to a bundle control request.
func bundleReply(want uint16) func(uint8, []byte) (bool, error) {
	return func(typ uint8, m []byte) (bool, error) {
		switch {
		case typ == ofptError:
			return true, parseError(m)
		case typ == ofptExperimenter && len(m) >= 24 && be.Uint32(m[8:]) == onfVendor &&
			be.Uint32(m[12:]) == onfBundleControl:
			if got := be.Uint16(m[20:]); got != want {
				return true, fmt.Errorf("bundle: reply type %d, want %d", got, want)
			}
			return true, nil
		}
		return true, fmt.Errorf("bundle: unexpected reply type %d", typ)
	}
}

// bundleFailed discards the bundle (when discardID is non-zero) and builds
// the error naming the refused flows.
func (c *OFConn) bundleFailed(ctx context.Context, discardID uint32, bs *bundleState, ops []bundleOp, err error) error {
	if discardID != 0 && c.Err() == nil {
		xid := c.nextXID()
		if derr := c.request(ctx, xid, appendBundleControl(nil, xid, discardID, bundleDiscardReq),
			bundleReply(bundleDiscardReply)); derr != nil {
			c.log.Warn("openflow: discarding bundle", "err", derr)
		}
	}
	berr := &BundleError{Err: err}
	c.mu.Lock()
	defer c.mu.Unlock()
	xid := bs.lo
	for _, o := range ops {
		for _, f := range o.flows {
			xid++
			if oe, ok := bs.errs[xid]; ok {
				berr.Flows = append(berr.Flows, FlowError{Command: o.cmd, Flow: f, Err: oe})
			}
		}
	}
	if oe, ok := bs.errs[bs.lo]; ok && berr.Err == nil {
		berr.Err = oe // the open itself failed
	}
	return berr
}

// DeleteByCookie deletes every flow, in every table, whose cookie matches
// cookie under mask (non-strict), and waits until the switch has done it.
func (c *OFConn) DeleteByCookie(ctx context.Context, cookie, mask uint64) error {
	xid := c.nextXID()
	msg := appendDeleteCookie(nil, xid, cookie, mask)
	bxid := c.nextXID()
	msg, _ = finish(appendHeader(msg, ofptBarrierReq, bxid), len(msg))
	var flowErr error
	p := c.register(xid, func(typ uint8, m []byte) (bool, error) {
		flowErr = parseError(m)
		return true, nil
	})
	defer c.unregister(xid)
	if err := c.request(ctx, bxid, msg, nil); err != nil {
		return fmt.Errorf("delete cookie 0x%x/0x%x: %w", cookie, mask, err)
	}
	select {
	case <-p.result: // the error came before the barrier reply
		return fmt.Errorf("delete cookie 0x%x/0x%x: %w", cookie, mask, flowErr)
	default:
		return nil
	}
}

// DumpCookies returns the cookies of all flows on the bridge with the
// number of flows carrying each (multipart flow stats).
func (c *OFConn) DumpCookies(ctx context.Context) (map[uint64]int, error) {
	cookies := map[uint64]int{}
	if err := c.eachFlowStat(ctx, ofpttAll, 0, 0, func(e []byte) { cookies[be.Uint64(e[24:])]++ }); err != nil {
		return nil, fmt.Errorf("dump flows: %w", err)
	}
	return cookies, nil
}

// PacketOut sends data out as if it had arrived on inPort (use
// PortController for none), through actions. Errors from the switch are
// logged, not returned.
func (c *OFConn) PacketOut(inPort uint32, actions []ofp.Action, data []byte) error {
	b := appendHeader(nil, ofptPacketOut, c.nextXID())
	b = be.AppendUint32(b, noBuffer)
	b = be.AppendUint32(b, inPort)
	b = be.AppendUint16(b, 0)
	b = append(b, 0, 0, 0, 0, 0, 0)
	s := len(b)
	b, err := AppendActions(b, actions)
	if err != nil {
		return fmt.Errorf("packet-out: %w", err)
	}
	be.PutUint16(b[16:], uint16(len(b)-s))
	b = append(b, data...)
	if b, err = finish(b, 0); err != nil {
		return fmt.Errorf("packet-out: %w", err)
	}
	return c.write(b)
}

// Reserved OpenFlow port numbers.
const (
	PortInPort     uint32 = ofppInPort
	PortTable      uint32 = 0xfffffff9 // submit to the flow table (packet-out)
	PortLocal      uint32 = 0xfffffffe
	PortController uint32 = ofppController
)
