package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/wyvern-sdn/wyvern/internal/metrics"
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
	"github.com/wyvern-sdn/wyvern/internal/store"
)

// event is one input to the loop; exactly one field is set.
type event struct {
	iface     *ovs.InterfaceEvent
	ifaceSync bool      // the initial interface listing is complete
	nextHop   *PacketIn // an upstream router's ARP reply (nexthop.go)
	kv        *kvEvent
	pin       *PacketIn
	resolved  *resolved
	// call runs in the loop (a question about its state).
	call    func()
	inspect chan<- Inspection
}

// resolved is the answer of an index lookup: the network of a port id, ""
// when the port does not exist (yet).
type resolved struct {
	portID, netID string
	// routerPort marks the lookup of a router interface port.
	routerPort bool
	// bound says the binding was already written.
	bound bool
}

// Tags of the global watches; network watches take the following ones.
const (
	watchGatewayChassis = 1
	watchRouters        = 2
	watchRules          = 3
	watchFIPs           = 4
	watchQoS            = 6
	watchGateways       = 7
	firstNetTag         = 8
)

func (a *Agent) feedInterfaces(ctx context.Context) {
	for ev := range a.sw.Interfaces(ctx) {
		ev := ev
		if ev.Kind == 0 {
			a.post(ctx, event{ifaceSync: true})
			continue
		}
		a.post(ctx, event{iface: &ev})
	}
}

func (a *Agent) feedPacketIns(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p, ok := <-a.sw.PacketIns():
			if !ok {
				return
			}
			if isNextHop(p) {
				a.post(ctx, event{nextHop: &p})
				continue
			}
			a.post(ctx, event{pin: &p})
		}
	}
}

// forward runs a watch whose events go to the loop.
func (a *Agent) forward(ctx context.Context, tag uint64, prefix string) {
	ch := make(chan kvEvent, 64)
	go a.st.Inform(ctx, tag, prefix, ch, a.log)
	a.relay(ctx, ch)
}

// relay posts the events of ch to the loop until ctx ends.
func (a *Agent) relay(ctx context.Context, ch <-chan kvEvent) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-ch:
			a.post(ctx, event{kv: &e})
		}
	}
}

func (a *Agent) post(ctx context.Context, e event) {
	select {
	case a.events <- e:
	case <-ctx.Done():
	}
}

// syncRetry is how long a failed sync waits before it is tried again (a
// new event retries it sooner).
const syncRetry = time.Second

// loop owns the agent's state: it folds events in, and after each burst
// recompiles and reconciles.
func (a *Agent) loop(ctx context.Context) error {
	nextTag := uint64(firstNetTag)
	ifacesListed := false
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	// arpTimer asks the upstream routers' MACs when due (nexthop.go).
	arpTimer := time.NewTimer(time.Hour)
	defer arpTimer.Stop()
	a.arpTimer = arpTimer
	// resync retries a failed sync: the switch must converge even when no
	// further event comes.
	resync := time.NewTimer(time.Hour)
	resync.Stop()
	defer resync.Stop()
	// trim fires once the agent has been idle TrimAfter since a sync.
	trim := time.NewTimer(time.Hour)
	trim.Stop()
	defer trim.Stop()
	var pending map[string]bool // iface-ids waiting for their port
	// raTick sends the periodic router advertisements (ipv6.go).
	raTick := time.NewTicker(a.cfg.RAInterval)
	defer raTick.Stop()
	for {
		var ev event
		select {
		case <-ctx.Done():
			for _, n := range a.state.nets {
				n.cancel()
			}
			return nil
		case ev = <-a.events:
		case <-a.sw.Resync():
			a.log.Warn("switch lost its flows; reinstalling")
			_ = a.rec.fail(nil)
			a.rec.inherited = false // nothing left to forward meanwhile
			for name, c := range a.state.peers {
				a.pinNeighbor(ctx, name, c)
			}
			a.trySync(ctx, resync, "reinstall failed")
			continue
		case <-arpTimer.C:
			a.scheduleARP(a.askNextHops(ctx, time.Now()))
			continue
		case <-resync.C:
			metrics.AgentSyncRetries.Inc()
			if !a.complete(ifacesListed) {
				continue // an event will sync once the view is whole
			}
			a.trySync(ctx, resync, "reconcile failed again")
			continue
		case <-trim.C:
			debug.FreeOSMemory()
			continue
		case <-raTick.C:
			a.advertise(ctx, true)
			continue
		case <-retry.C:
			for id := range pending {
				go a.resolveAndBind(ctx, id)
			}
			pending = nil
			continue
		}
		dirty := false
		var hold *time.Timer // Coalesce's, from the first dirty event
		for {
			switch {
			case ev.nextHop != nil:
				if a.handleNextHop(*ev.nextHop) {
					dirty = true
				}
			case ev.ifaceSync:
				ifacesListed = true
				dirty = true
			case ev.iface != nil:
				if a.handleIface(ctx, *ev.iface) {
					dirty = true
				}
			case ev.resolved != nil && ev.resolved.routerPort:
				delete(a.pendingRouterPorts, ev.resolved.portID)
				a.state.routerPortNet[ev.resolved.portID] = ev.resolved.netID
				dirty = true
			case ev.resolved != nil:
				r := ev.resolved
				// Before the first install every answer counts (complete
				// waits for all); after it, only one that makes a network
				// local changes the view or the watches.
				_, plugged := a.ifaceByPort(r.portID)
				if !a.rec.synced || r.netID != "" && plugged && !a.state.localNets()[r.netID] {
					dirty = true
				}
				if r.netID == "" {
					if pending == nil {
						pending = map[string]bool{}
					}
					if plugged {
						pending[r.portID] = true
						retry.Reset(500 * time.Millisecond)
					}
					a.state.portNet[r.portID] = ""
					break
				}
				a.state.portNet[r.portID] = r.netID
				if !r.bound {
					a.bind(ctx, r.portID)
				}
			case ev.kv != nil:
				if a.handleKV(ctx, *ev.kv) {
					dirty = true
				}
			case ev.pin != nil:
				a.handlePacketIn(ctx, *ev.pin)
			case ev.call != nil:
				ev.call()
			case ev.inspect != nil:
				ev.inspect <- a.inspect()
			}
			// Fold in everything already queued before recompiling, and
			// with Coalesce what arrives within it.
			select {
			case ev = <-a.events:
				continue
			default:
			}
			if dirty && a.cfg.Coalesce > 0 && a.rec.synced {
				if hold == nil {
					hold = time.NewTimer(a.cfg.Coalesce)
				}
				select {
				case ev = <-a.events:
					continue
				case <-hold.C:
				case <-ctx.Done():
				}
			}
			break
		}
		if hold != nil {
			hold.Stop()
		}
		if !dirty {
			continue
		}
		a.refreshWatches(ctx, &nextTag)
		if !a.rec.synced && !a.complete(ifacesListed) {
			continue // never install a partial view over a running one
		}
		a.trySync(ctx, resync, "reconcile failed")
		if a.cfg.TrimAfter > 0 {
			trim.Reset(a.cfg.TrimAfter)
		}
	}
}

// complete reports whether the view has everything the running flows may
// depend on: the first full install waits for it, so a restart never
// replaces good flows with a partial set.
func (a *Agent) complete(ifacesListed bool) bool {
	if !ifacesListed || !a.state.gwChassisReady || !a.state.routersReady || !a.state.rulesReady ||
		!a.state.fipsReady || !a.state.qosReady ||
		a.cfg.learnsEdgeEncaps() && !a.state.gatewaysReady {
		return false
	}
	for _, pw := range a.state.peerWatches {
		if !pw.ready {
			return false
		}
	}
	for _, i := range a.state.ifaces {
		if _, known := a.state.portNet[i.IfaceID()]; !known {
			return false // lookup in flight
		}
	}
	want, unresolved := a.state.wantedNets()
	if len(unresolved) > 0 {
		return false
	}
	for id := range want {
		if n := a.state.nets[id]; n == nil || !n.ready() {
			return false
		}
	}
	for g := range a.state.wantedGroups() {
		if gd := a.state.groups[g]; gd == nil || !gd.ready {
			return false
		}
	}
	return true
}

// trySync syncs, and arms resync to try again after a failure (logged as
// msg), or once a held first install is due (awaitNextHops).
func (a *Agent) trySync(ctx context.Context, resync *time.Timer, msg string) {
	err := a.sync(ctx)
	var held errHeld
	switch {
	case err == nil:
	case errors.As(err, &held):
		resync.Reset(time.Duration(held))
	default:
		a.log.Error(msg, "err", err, "retry_in", syncRetry)
		resync.Reset(syncRetry)
	}
}

func (a *Agent) sync(ctx context.Context) error {
	start := time.Now()
	geneve, vxlan := a.sw.TunnelPorts()
	v, ok := a.buildView(pipeline.LocalChassis{Name: a.cfg.Chassis, TunnelIP: a.cfg.TunnelIP, GeneveOFPort: geneve, VXLANOFPort: vxlan,
		EdgeEndpoint: a.cfg.EdgeEndpoint, EdgeEncaps: a.edgeEncaps()})
	if !ok {
		return nil // logged; the next event builds it again
	}
	if wait := a.awaitNextHops(ctx, time.Now()); wait > 0 {
		return errHeld(wait)
	}
	v.Metadata = a.meta
	secs := pipeline.CompileSections(v, pipeline.Config{ControllerID: a.cfg.ControllerID, NDResponder: true}, a.rec.gen, a.sections)
	a.sections = secs
	bundleStart := a.obs.compiled(start, secs)
	if a.log.Enabled(ctx, slog.LevelDebug) {
		rebuilt := 0
		for _, s := range secs {
			if !s.Reused {
				rebuilt++
			}
		}
		a.log.Debug("compiled", "sections", len(secs), "rebuilt", rebuilt, "took", time.Since(start))
	}
	meters := pipeline.Meters(v)
	if err := a.meters.add(ctx, a.sw, meters, !a.rec.synced); err != nil {
		return err
	}
	err := a.rec.apply(ctx, secs)
	a.observeApplied(ctx, bundleStart, err)
	if err != nil {
		return err
	}
	if err := a.meters.drop(ctx, a.sw, meters); err != nil {
		return err
	}
	a.nextHops.want(a.state.resolve, time.Now())
	a.scheduleARP(a.askNextHops(ctx, time.Now()))
	// A failed announcement is retried like a failed sync.
	bgpErr := a.announceBGP(ctx)
	a.updateFIPStatus(ctx)
	a.announce(ctx)
	a.advertise(ctx, false)
	if !a.everSynced {
		a.everSynced = true
		close(a.synced)
		a.log.Info("initial sync installed", "flows", len(a.rec.installed))
	}
	return bgpErr
}

func (a *Agent) ifaceByPort(portID string) (ovs.Interface, bool) {
	for _, i := range a.state.ifaces {
		if i.IfaceID() == portID {
			return i, true
		}
	}
	return ovs.Interface{}, false
}

// handleIface tracks br-int's interfaces with an iface-id.
func (a *Agent) handleIface(ctx context.Context, ev ovs.InterfaceEvent) bool {
	i := ev.Iface
	old, had := a.state.ifaces[i.Name]
	if ev.Kind == ovs.IfaceRemoved || i.IfaceID() == "" {
		if !had {
			return false
		}
		delete(a.state.ifaces, i.Name)
		if _, still := a.ifaceByPort(old.IfaceID()); !still {
			delete(a.state.portNet, old.IfaceID())
			go a.unbind(ctx, old.IfaceID())
		}
		return true
	}
	a.state.ifaces[i.Name] = i
	id := i.IfaceID()
	if had && old.IfaceID() != id {
		if _, still := a.ifaceByPort(old.IfaceID()); !still {
			delete(a.state.portNet, old.IfaceID())
			go a.unbind(ctx, old.IfaceID())
		}
	}
	// The view reads an interface's iface-id and, once assigned, its
	// ofport: a status or MAC change, or a new interface still without
	// an ofport, compiles to nothing new.
	idChanged := had && old.IfaceID() != id
	ofChanged := (!had || old.OFPort != i.OFPort) && (i.OFPort > 0 || had && old.OFPort > 0)
	netID, ok := a.state.portNet[id]
	if !ok {
		go a.resolveAndBind(ctx, id)
		// Until the lookup answers, the view changes only if the port is
		// on a network already held here.
		return idChanged || ofChanged && (had || a.inWatchedNet(id))
	}
	if netID != "" && (!had || old.OFPort != i.OFPort) {
		a.bind(ctx, id)
	}
	// A known port's interface appearing makes its network local.
	return idChanged || ofChanged || !had && netID != ""
}

func (a *Agent) inWatchedNet(portID string) bool {
	for _, n := range a.state.nets {
		if _, ok := n.ports[portID]; ok {
			return true
		}
	}
	return false
}

// resolveAndBind looks up a newly plugged port's network and binds it
// straight away, off the loop: the binding is what other chassis wait for,
// so it must not queue behind a recompile.
func (a *Agent) resolveAndBind(ctx context.Context, portID string) {
	netID, err := a.st.GetString(ctx, store.IndexKey(store.KindPorts, portID))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.Warn("port lookup failed", "port", portID, "err", err)
	}
	if netID != "" {
		a.bindTo(ctx, netID, portID)
	}
	a.post(ctx, event{resolved: &resolved{portID: portID, netID: netID, bound: netID != ""}})
}

func (a *Agent) ensureWatch(ctx context.Context, netID string, nextTag *uint64) {
	if _, ok := a.state.nets[netID]; ok {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	tag := *nextTag
	*nextTag++
	a.state.nets[netID] = &netData{tag: tag, cancel: cancel, subnets: map[string]*model.Subnet{}, records: map[string]*model.Port{}, bindings: map[string]*model.PortBinding{},
		ports: map[string]*model.Port{}, resets: map[string]bool{}}
	ch := make(chan kvEvent, 256)
	for _, p := range []string{store.NetworkKey(netID), store.SubnetsOf(netID), store.PortsOf(netID), store.ScopedOf(netID)} {
		go a.st.Inform(wctx, tag, p, ch, a.log)
	}
	go a.relay(wctx, ch)
	a.log.Debug("watching network", "network", netID)
}

// refreshWatches makes the watched networks those the chassis needs
// (wantedNets): it starts the missing watches, looks up unknown router
// interfaces, and drops networks no longer needed, so the chassis then
// holds nothing of them.
func (a *Agent) refreshWatches(ctx context.Context, nextTag *uint64) {
	want, unresolved := a.state.wantedNets()
	for _, pid := range unresolved {
		if !a.pendingRouterPorts[pid] {
			a.pendingRouterPorts[pid] = true
			go a.resolveRouterPort(ctx, pid)
		}
	}
	for id := range want {
		a.ensureWatch(ctx, id, nextTag)
	}
	dropped := false
	for id, n := range a.state.nets {
		if !want[id] {
			n.cancel()
			delete(a.state.nets, id)
			dropped = true
			a.log.Debug("stopped watching network", "network", id)
		}
	}
	if dropped {
		a.state.unionScoped()
	}
	a.refreshGroups(ctx, nextTag)
	a.refreshPeers(ctx, nextTag)
}

// refreshGroups makes the security groups followed those the held ports
// need (wantedGroups): one informer on each group's rules
// (store.GroupRulesOf), so a rule change reaches only the chassis that
// hold a port in its group or in a group naming it as remote.
func (a *Agent) refreshGroups(ctx context.Context, nextTag *uint64) {
	want := a.state.wantedGroups()
	for g := range want {
		if _, ok := a.state.groups[g]; ok {
			continue
		}
		gctx, cancel := context.WithCancel(ctx)
		gd := &groupData{tag: *nextTag, cancel: cancel, rules: map[string]*model.SecurityGroupRule{}}
		*nextTag++
		a.state.groups[g] = gd
		ch := make(chan kvEvent, 16)
		go a.st.Inform(gctx, gd.tag, store.GroupRulesOf(g), ch, a.log)
		go func() {
			for {
				select {
				case <-gctx.Done():
					return
				case e := <-ch:
					a.post(gctx, event{kv: &e})
				}
			}
		}()
	}
	dropped := false
	for g, gd := range a.state.groups {
		if !want[g] {
			gd.cancel()
			delete(a.state.groups, g)
			dropped = true
		}
	}
	if dropped {
		a.state.unionRules()
	}
}

func (a *Agent) resolveRouterPort(ctx context.Context, portID string) {
	netID, err := a.st.GetString(ctx, store.IndexKey(store.KindPorts, portID))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.Warn("router port lookup failed", "port", portID, "err", err)
		return
	}
	a.post(ctx, event{resolved: &resolved{portID: portID, netID: netID, routerPort: true}})
}

func (a *Agent) handleKV(ctx context.Context, e kvEvent) bool {
	a.obs.event(e)
	if dirty, ok := a.handleMetering(e); ok {
		return dirty
	}
	switch e.Tag {
	case watchRouters:
		foldRecords(&a.state.routers, e, store.KindPrefix(store.KindRouters))
		a.state.routersReady = a.state.routersReady || e.Reset
		return true
	case watchFIPs:
		a.state.handleFIPs(e)
		return true
	case watchGatewayChassis:
		a.state.handleGatewayChassis(e)
		return true
	case watchRules:
		foldRecords(&a.state.rules, e, store.KindPrefix(store.KindSGRules))
		a.state.rulesReady = a.state.rulesReady || e.Reset
		return true
	case watchQoS:
		foldRecords(&a.state.qos, e, store.KindPrefix(store.KindQoSPolicies))
		a.state.qosReady = a.state.qosReady || e.Reset
		return true
	case watchGateways:
		return a.handleGateways(e)
	}
	if pw := a.state.peerWatchOf(e.Tag); pw != nil {
		return pw.apply(e)
	}
	for _, n := range a.state.nets {
		if n.tag == e.Tag {
			changed := n.apply(e, a.cfg.Chassis)
			if strings.HasPrefix(e.Prefix, store.ScopedPrefix) {
				a.state.unionScoped()
			}
			return changed
		}
	}
	for g, gd := range a.state.groups {
		if gd.tag == e.Tag {
			if e.Reset {
				gd.rules = map[string]*model.SecurityGroupRule{}
				gd.ready = true
			}
			for _, kv := range e.KVs {
				foldOne(gd.rules, strings.TrimPrefix(kv.Key, store.GroupRulesOf(g)), kv.Value, e.Delete)
			}
			a.state.unionRules()
			return true
		}
	}
	return false // a cancelled watch
}

// foldRecords applies a watch event of a global prefix to the records
// decoded from it (see store.Fold).
func foldRecords[T any](m *map[string]*T, e kvEvent, prefix string) { store.Fold(m, e, prefix) }

// pinNeighbor sets the peer's underlay MAC statically, so no tunnel packet
// waits on (or is lost to) ARP on the underlay.
func (a *Agent) pinNeighbor(ctx context.Context, name string, c model.Chassis) {
	ip, err := netip.ParseAddr(c.TunnelIP)
	if err != nil || c.TunnelMAC == "" {
		return
	}
	if err := a.sw.SetTunnelNeighbor(ctx, ip, c.TunnelMAC); err != nil {
		a.log.Warn("tunnel neighbour", "peer", name, "err", err)
	}
}

// bind records in etcd that a port is plugged here, unless it already says
// so. It runs in its own goroutine: the loop never waits on etcd.
func (a *Agent) bind(ctx context.Context, portID string) {
	netID := a.state.portNet[portID]
	go a.bindTo(ctx, netID, portID)
}

// Backoff between attempts to write a binding that failed.
const (
	bindRetryMin = 200 * time.Millisecond
	bindRetryMax = 5 * time.Second
)

// bindTo writes the binding of a port on network netID to this chassis. A
// failed write (etcd slow or unreachable) is tried again, backing off, for
// as long as the port's interface stays plugged here: nothing else would
// write it, and the other chassis and the API wait on it.
func (a *Agent) bindTo(ctx context.Context, netID, portID string) {
	backoff := bindRetryMin
	for {
		err := a.writeBinding(ctx, netID, portID, model.StatusActive)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.log.Warn("bind failed; retrying", "port", portID, "err", err, "retry_in", backoff)
		sleepCtx(ctx, backoff)
		backoff = min(2*backoff, bindRetryMax)
		if !a.pluggedHere(ctx, portID) {
			return
		}
	}
}

// pluggedHere asks the loop whether an interface here still carries the
// port (false when ctx ends first).
func (a *Agent) pluggedHere(ctx context.Context, portID string) bool {
	ans := make(chan bool, 1)
	a.post(ctx, event{call: func() {
		_, ok := a.ifaceByPort(portID)
		ans <- ok
	}})
	select {
	case ok := <-ans:
		return ok
	case <-ctx.Done():
		return false
	}
}

// unbind marks a port DOWN when its interface left this chassis.
func (a *Agent) unbind(ctx context.Context, portID string) {
	if err := a.writeBinding(ctx, "", portID, model.StatusDown); err != nil && ctx.Err() == nil {
		a.log.Warn("unbind failed", "port", portID, "err", err)
	}
}

// vifDetails are the binding details this agent reports.
var vifDetails = map[string]any{"port_filter": true, "connectivity": "l2", "bridge_name": "br-int", "datapath_type": "netdev"}

// writeBinding is the one place the agent writes a binding: this
// chassis' own key (store.BindingKey), never the port record, in one
// transaction, and only when it changes. It carries this chassis'
// endpoint, which is how the chassis holding the port learn it. The
// server mirrors it to the
// port's readers (store.MirrorBindings). A port is marked DOWN (status
// DOWN, netID "") only where this chassis bound it.
func (a *Agent) writeBinding(ctx context.Context, netID, portID, status string) error {
	return a.st.Update(ctx, store.BindingKey(a.cfg.Chassis, portID), func(cur []byte) ([]byte, error) {
		var b model.PortBinding
		if cur != nil {
			if err := json.Unmarshal(cur, &b); err != nil {
				b = model.PortBinding{}
			}
		} else if status != model.StatusActive {
			return nil, nil
		}
		if netID == "" {
			netID = b.NetworkID
		}
		if b.NetworkID == netID && b.Status == status && b.VIFType == "ovs" && b.Endpoint.Equal(a.endpoint) && cur != nil {
			return nil, nil
		}
		out, err := json.Marshal(model.PortBinding{NetworkID: netID, Status: status, VIFType: "ovs", VIFDetails: vifDetails,
			Endpoint: a.endpoint})
		if err != nil {
			return nil, fmt.Errorf("encode binding of %s: %w", portID, err)
		}
		return out, nil
	})
}
