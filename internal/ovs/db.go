package ovs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/wyvern-sdn/wyvern/internal/ovs/vswitchd"
)

// DB is a client of the local Open_vSwitch database (ovsdb-server). It
// keeps a cache of the Open_vSwitch, Bridge, Port and Interface tables,
// fed by a monitor, and reconnects by itself when the server restarts.
type DB struct {
	c   client.Client
	log *slog.Logger

	mu       sync.Mutex
	watchers map[int]chan struct{}
	nextW    int
	done     chan struct{}
	once     sync.Once
}

// pollInterval is how often a wait on the database cache re-checks its
// condition.
const pollInterval = 5 * time.Millisecond

// Open connects to ovsdb-server at endpoint ("unix:/path/db.sock") and
// starts monitoring. log may be nil.
func Open(ctx context.Context, endpoint string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dbModel, err := vswitchd.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("ovsdb model: %w", err)
	}
	discard := logr.Discard()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 50 * time.Millisecond
	bo.MaxInterval = 2 * time.Second
	bo.MaxElapsedTime = 0
	c, err := client.NewOVSDBClient(dbModel,
		client.WithEndpoint(endpoint),
		client.WithLogger(&discard),
		client.WithReconnect(5*time.Second, bo))
	if err != nil {
		return nil, fmt.Errorf("ovsdb client: %w", err)
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("ovsdb connect %s: %w", endpoint, err)
	}
	d := &DB{c: c, log: log, watchers: map[int]chan struct{}{}, done: make(chan struct{})}
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { d.notify() },
		UpdateFunc: func(string, model.Model, model.Model) { d.notify() },
		DeleteFunc: func(string, model.Model) { d.notify() },
	})
	ifm := &vswitchd.Interface{}
	mon := c.NewMonitor(
		client.WithTable(&vswitchd.OpenvSwitch{}),
		client.WithTable(&vswitchd.Bridge{}),
		client.WithTable(&vswitchd.Port{}),
		// Only the Interface columns read here: not statistics, status or
		// link state, which vswitchd rewrites every few seconds and would
		// wake every watcher for nothing.
		client.WithTable(ifm, &ifm.Name, &ifm.Type, &ifm.Options, &ifm.ExternalIDs, &ifm.Ofport,
			&ifm.OfportRequest, &ifm.MACInUse, &ifm.Error),
	)
	if _, err := c.Monitor(ctx, mon); err != nil {
		c.Close()
		return nil, fmt.Errorf("ovsdb monitor: %w", err)
	}
	return d, nil
}

// Close disconnects from the database and ends every watch.
func (d *DB) Close() {
	d.once.Do(func() {
		close(d.done)
		d.c.Close()
	})
}

func (d *DB) notify() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ch := range d.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (d *DB) addWatcher() (int, chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := d.nextW
	d.nextW++
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	d.watchers[id] = ch
	return id, ch
}

func (d *DB) removeWatcher(id int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.watchers, id)
}

// BridgeConfig is the desired configuration of a bridge. EnsureBridge sets
// these columns and leaves the others (ports, other external_ids keys)
// alone.
type BridgeConfig struct {
	Name string
	// DatapathType is "netdev" (userspace) or "system" (kernel); empty
	// leaves OVS's default.
	DatapathType string
	// FailSecure sets fail_mode=secure: no NORMAL flows when no controller
	// is connected. False sets standalone.
	FailSecure bool
	// Protocols are the OpenFlow versions enabled, e.g. "OpenFlow13".
	Protocols []string
	// DisableInBand sets other_config:disable-in-band=true.
	DisableInBand bool
	// ExternalIDs are merged into the bridge's external_ids.
	ExternalIDs map[string]string
	// HWAddr, when set, fixes the bridge's MAC (other_config:hwaddr).
	HWAddr string
}

func (cfg BridgeConfig) apply(b *vswitchd.Bridge) {
	b.Name = cfg.Name
	if cfg.DatapathType != "" {
		b.DatapathType = cfg.DatapathType
	}
	mode := vswitchd.BridgeFailModeStandalone
	if cfg.FailSecure {
		mode = vswitchd.BridgeFailModeSecure
	}
	b.FailMode = &mode
	b.Protocols = slices.Clone(cfg.Protocols)
	oc := maps.Clone(b.OtherConfig)
	if oc == nil {
		oc = map[string]string{}
	}
	if cfg.DisableInBand {
		oc["disable-in-band"] = "true"
	} else {
		delete(oc, "disable-in-band")
	}
	if cfg.HWAddr != "" {
		oc["hwaddr"] = cfg.HWAddr
	}
	b.OtherConfig = oc
	ext := maps.Clone(b.ExternalIDs)
	if ext == nil {
		ext = map[string]string{}
	}
	maps.Copy(ext, cfg.ExternalIDs)
	b.ExternalIDs = ext
}

// EnsureBridge creates the bridge, or fixes its configuration, and waits
// until ovs-vswitchd has applied the change (its management socket exists
// from then on). Calling it again with the same config changes nothing.
func (d *DB) EnsureBridge(ctx context.Context, cfg BridgeConfig) error {
	if cfg.Name == "" {
		return errors.New("ensure bridge: empty name")
	}
	br, err := d.bridge(ctx, cfg.Name)
	if err != nil {
		return err
	}
	var ops []ovsdb.Operation
	if br == nil {
		iface := &vswitchd.Interface{UUID: "wyviface", Name: cfg.Name, Type: "internal"}
		port := &vswitchd.Port{UUID: "wyvport", Name: cfg.Name, Interfaces: []string{iface.UUID}}
		nb := &vswitchd.Bridge{UUID: "wyvbridge", Ports: []string{port.UUID}}
		cfg.apply(nb)
		create, err := d.c.Create(iface, port, nb)
		if err != nil {
			return fmt.Errorf("ensure bridge %s: %w", cfg.Name, err)
		}
		root, err := d.root(ctx)
		if err != nil {
			return err
		}
		mut, err := d.c.Where(root).Mutate(root, model.Mutation{
			Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{nb.UUID},
		})
		if err != nil {
			return fmt.Errorf("ensure bridge %s: %w", cfg.Name, err)
		}
		ops = append(create, mut...)
	} else {
		want := *br
		cfg.apply(&want)
		if bridgeEqual(*br, want) {
			return nil
		}
		upd, err := d.c.Where(br).Update(&want, &want.DatapathType, &want.FailMode, &want.Protocols,
			&want.OtherConfig, &want.ExternalIDs)
		if err != nil {
			return fmt.Errorf("ensure bridge %s: %w", cfg.Name, err)
		}
		ops = upd
	}
	if err := d.transactWait(ctx, ops); err != nil {
		return fmt.Errorf("ensure bridge %s: %w", cfg.Name, err)
	}
	return nil
}

func bridgeEqual(a, b vswitchd.Bridge) bool {
	return a.DatapathType == b.DatapathType &&
		(a.FailMode == nil) == (b.FailMode == nil) && (a.FailMode == nil || *a.FailMode == *b.FailMode) &&
		slices.Equal(sortedCopy(a.Protocols), sortedCopy(b.Protocols)) &&
		maps.Equal(a.OtherConfig, b.OtherConfig) && maps.Equal(a.ExternalIDs, b.ExternalIDs)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// ErrNotFound is returned (wrapped) when a named bridge, port or interface
// does not exist.
var ErrNotFound = errors.New("not found")

// PortConfig describes a port with one interface of the same name.
type PortConfig struct {
	Name string
	// Type is the interface type: "" (system device), "internal",
	// "geneve", "vxlan", "patch", ...
	Type string
	// Options are the interface's options (e.g. remote_ip for tunnels).
	Options map[string]string
	// ExternalIDs are the interface's external_ids (iface-id,
	// attached-mac, iface-status).
	ExternalIDs map[string]string
	// OFPortRequest asks for a given OpenFlow port number; 0 lets OVS
	// choose.
	OFPortRequest int
}

// AddPort adds a port (and its interface) to a bridge and waits until
// ovs-vswitchd has applied it. It returns the interface's OpenFlow port
// number, or an error when OVS could not create the interface.
func (d *DB) AddPort(ctx context.Context, bridge string, pc PortConfig) (uint32, error) {
	br, err := d.bridge(ctx, bridge)
	if err != nil {
		return 0, err
	}
	if br == nil {
		return 0, fmt.Errorf("add port %s: bridge %s: %w", pc.Name, bridge, ErrNotFound)
	}
	iface := &vswitchd.Interface{UUID: "wyviface", Name: pc.Name, Type: pc.Type,
		Options: maps.Clone(pc.Options), ExternalIDs: maps.Clone(pc.ExternalIDs)}
	if pc.OFPortRequest > 0 {
		r := pc.OFPortRequest
		iface.OfportRequest = &r
	}
	port := &vswitchd.Port{UUID: "wyvport", Name: pc.Name, Interfaces: []string{iface.UUID}}
	ops, err := d.c.Create(iface, port)
	if err != nil {
		return 0, fmt.Errorf("add port %s: %w", pc.Name, err)
	}
	mut, err := d.c.Where(br).Mutate(br, model.Mutation{
		Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID},
	})
	if err != nil {
		return 0, fmt.Errorf("add port %s: %w", pc.Name, err)
	}
	if err := d.transactWait(ctx, append(ops, mut...)); err != nil {
		return 0, fmt.Errorf("add port %s: %w", pc.Name, err)
	}
	return d.waitOFPort(ctx, pc.Name)
}

// Tunnel types for EnsureTunnelPort.
const (
	TunnelGeneve = "geneve"
	TunnelVXLAN  = "vxlan"
)

// EnsureTunnelPort makes sure bridge has a flow-based tunnel port name of
// type typ (TunnelGeneve or TunnelVXLAN): options remote_ip=flow, key=flow
// and the protocol's default UDP port. The remote endpoint and the key are
// then set per packet by flows (tun_dst, tun_id). It returns the port's
// OpenFlow number once OVS has assigned it.
func (d *DB) EnsureTunnelPort(ctx context.Context, bridge, name, typ string) (uint32, error) {
	if typ != TunnelGeneve && typ != TunnelVXLAN {
		return 0, fmt.Errorf("tunnel port %s: unsupported type %q", name, typ)
	}
	opts := map[string]string{"remote_ip": "flow", "key": "flow"}
	ifc, err := d.iface(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return d.AddPort(ctx, bridge, PortConfig{Name: name, Type: typ, Options: opts})
	case err != nil:
		return 0, err
	}
	if ifc.Type != typ || !maps.Equal(ifc.Options, opts) {
		want := *ifc
		want.Type, want.Options = typ, opts
		ops, err := d.c.Where(ifc).Update(&want, &want.Type, &want.Options)
		if err != nil {
			return 0, fmt.Errorf("tunnel port %s: %w", name, err)
		}
		if err := d.transactWait(ctx, ops); err != nil {
			return 0, fmt.Errorf("tunnel port %s: %w", name, err)
		}
	}
	return d.waitOFPort(ctx, name)
}

// waitOFPort waits until OVS has given interface name an OpenFlow port.
func (d *DB) waitOFPort(ctx context.Context, name string) (uint32, error) {
	var port uint32
	err := d.waitFor(ctx, func() (bool, error) {
		ifc, err := d.iface(ctx, name)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return false, nil
			}
			return false, err
		}
		if ifc.Ofport == nil || *ifc.Ofport == 0 {
			return false, nil
		}
		if *ifc.Ofport < 0 {
			msg := "no ofport"
			if ifc.Error != nil {
				msg = *ifc.Error
			}
			return false, fmt.Errorf("interface %s: %s", name, msg)
		}
		port = uint32(*ifc.Ofport)
		return true, nil
	})
	return port, err
}

// Interface is an OVS interface as the agent sees it.
type Interface struct {
	Name string
	Type string
	// OFPort is the OpenFlow port number: 0 while not yet assigned, -1
	// when OVS failed to create the interface (see Error).
	OFPort int
	// ExternalIDs holds iface-id, attached-mac, iface-status, ...
	ExternalIDs map[string]string
	// MAC is the interface's MAC in use, when known.
	MAC   string
	Error string
}

// IfaceID is external_ids:iface-id, the logical port the interface plugs.
func (i Interface) IfaceID() string { return i.ExternalIDs["iface-id"] }

// Status is external_ids:iface-status ("active" when the VM is running).
func (i Interface) Status() string { return i.ExternalIDs["iface-status"] }

func (i Interface) equal(j Interface) bool {
	return i.Name == j.Name && i.Type == j.Type && i.OFPort == j.OFPort && i.MAC == j.MAC &&
		i.Error == j.Error && maps.Equal(i.ExternalIDs, j.ExternalIDs)
}

func fromModel(m *vswitchd.Interface) Interface {
	i := Interface{Name: m.Name, Type: m.Type, ExternalIDs: maps.Clone(m.ExternalIDs)}
	if i.ExternalIDs == nil {
		i.ExternalIDs = map[string]string{}
	}
	if m.Ofport != nil {
		i.OFPort = *m.Ofport
	}
	if m.MACInUse != nil {
		i.MAC = *m.MACInUse
	}
	if m.Error != nil {
		i.Error = *m.Error
	}
	return i
}

// Interfaces returns the interfaces of a bridge by name (the bridge's own
// internal interface included).
func (d *DB) Interfaces(ctx context.Context, bridge string) (map[string]Interface, error) {
	out := map[string]Interface{}
	// Shallow rows are the cache's own models, read-only here: fromModel
	// copies what it keeps. (Get or List would clone every row, the
	// bridge's list of ports included, through reflection.)
	var br *vswitchd.Bridge
	for _, m := range d.c.Cache().Table("Bridge").RowsShallow() {
		if b, ok := m.(*vswitchd.Bridge); ok && b.Name == bridge {
			br = b
			break
		}
	}
	if br == nil {
		return out, nil
	}
	ports := d.c.Cache().Table("Port").RowsShallow()
	ifaces := d.c.Cache().Table("Interface").RowsShallow()
	for _, pu := range br.Ports {
		p, ok := ports[pu].(*vswitchd.Port)
		if !ok {
			continue // not in the cache yet
		}
		for _, iu := range p.Interfaces {
			m, ok := ifaces[iu].(*vswitchd.Interface)
			if !ok {
				continue
			}
			out[m.Name] = fromModel(m)
		}
	}
	return out, nil
}

// EventKind says what happened to an interface.
type EventKind int

// Interface event kinds.
const (
	IfaceAdded   EventKind = iota + 1 // appeared on the bridge
	IfaceChanged                      // ofport, external_ids, MAC or error changed
	IfaceRemoved                      // gone from the bridge
)

func (k EventKind) String() string {
	switch k {
	case IfaceAdded:
		return "added"
	case IfaceChanged:
		return "changed"
	case IfaceRemoved:
		return "removed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// InterfaceEvent is one change to the set of a bridge's interfaces. For
// IfaceRemoved, Iface is the last state seen; for IfaceChanged, Old is the
// previous state.
type InterfaceEvent struct {
	Kind  EventKind
	Iface Interface
	Old   Interface
}

// WatchInterfaces reports the interfaces of a bridge: first one
// IfaceAdded per interface present, then every change. Changes that come
// close together are coalesced (an interface that appears and gets its
// ofport at once is reported once, with the ofport). The channel is closed
// when ctx ends or the DB is closed. The bridge need not exist yet.
func (d *DB) WatchInterfaces(ctx context.Context, bridge string) <-chan InterfaceEvent {
	out := make(chan InterfaceEvent, 64)
	id, sig := d.addWatcher()
	go func() {
		defer close(out)
		defer d.removeWatcher(id)
		prev := map[string]Interface{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.done:
				return
			case <-sig:
			}
			cur, err := d.Interfaces(ctx, bridge)
			if err != nil {
				d.log.Warn("ovsdb: listing interfaces", "bridge", bridge, "err", err)
				continue
			}
			for _, ev := range diffInterfaces(prev, cur) {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
			prev = cur
		}
	}()
	return out
}

// diffInterfaces returns the events turning prev into cur, in name order.
func diffInterfaces(prev, cur map[string]Interface) []InterfaceEvent {
	var evs []InterfaceEvent
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		c := cur[name]
		p, ok := prev[name]
		switch {
		case !ok:
			evs = append(evs, InterfaceEvent{Kind: IfaceAdded, Iface: c})
		case !p.equal(c):
			evs = append(evs, InterfaceEvent{Kind: IfaceChanged, Iface: c, Old: p})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(prev)) {
		if _, ok := cur[name]; !ok {
			evs = append(evs, InterfaceEvent{Kind: IfaceRemoved, Iface: prev[name]})
		}
	}
	return evs
}

func (d *DB) root(ctx context.Context) (*vswitchd.OpenvSwitch, error) {
	var roots []vswitchd.OpenvSwitch
	if err := d.c.List(ctx, &roots); err != nil {
		return nil, fmt.Errorf("ovsdb: %w", err)
	}
	if len(roots) != 1 {
		return nil, fmt.Errorf("ovsdb: %d Open_vSwitch rows (database not initialised?)", len(roots))
	}
	return &roots[0], nil
}

func (d *DB) bridge(ctx context.Context, name string) (*vswitchd.Bridge, error) {
	var bs []vswitchd.Bridge
	if err := d.c.WhereCache(func(b *vswitchd.Bridge) bool { return b.Name == name }).List(ctx, &bs); err != nil {
		return nil, fmt.Errorf("ovsdb: bridge %s: %w", name, err)
	}
	if len(bs) == 0 {
		return nil, nil
	}
	return &bs[0], nil
}

func (d *DB) iface(ctx context.Context, name string) (*vswitchd.Interface, error) {
	var is []vswitchd.Interface
	if err := d.c.WhereCache(func(i *vswitchd.Interface) bool { return i.Name == name }).List(ctx, &is); err != nil {
		return nil, fmt.Errorf("ovsdb: interface %s: %w", name, err)
	}
	if len(is) == 0 {
		return nil, fmt.Errorf("interface %s: %w", name, ErrNotFound)
	}
	return &is[0], nil
}

func (d *DB) transact(ctx context.Context, ops []ovsdb.Operation) error {
	res, err := d.c.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("transact: %w", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("transact: %w", err)
	}
	return nil
}

// transactWait runs ops together with an increment of next_cfg and waits
// until ovs-vswitchd reports (cur_cfg) that it has applied them.
func (d *DB) transactWait(ctx context.Context, ops []ovsdb.Operation) error {
	root, err := d.root(ctx)
	if err != nil {
		return err
	}
	target := root.NextCfg + 1
	inc, err := d.c.Where(root).Mutate(root, model.Mutation{
		Field: &root.NextCfg, Mutator: ovsdb.MutateOperationAdd, Value: 1,
	})
	if err != nil {
		return err
	}
	if err := d.transact(ctx, append(ops, inc...)); err != nil {
		return err
	}
	return d.waitFor(ctx, func() (bool, error) {
		r, err := d.root(ctx)
		if err != nil {
			return false, err
		}
		return r.CurCfg >= target, nil
	})
}

// waitFor polls cond on the cache until it holds, fails, or ctx ends.
func (d *DB) waitFor(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for ovs-vswitchd: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// EnsurePatchPorts makes sure bridges a and b are joined by a pair of
// patch ports, nameA on a and nameB on b (each the other's peer), and
// returns nameA's OpenFlow port number once OVS has assigned it. Both
// bridges must exist.
func (d *DB) EnsurePatchPorts(ctx context.Context, a, nameA, b, nameB string) (uint32, error) {
	for _, p := range [][3]string{{a, nameA, nameB}, {b, nameB, nameA}} {
		bridge, name, peer := p[0], p[1], p[2]
		br, err := d.bridge(ctx, bridge)
		if err != nil {
			return 0, err
		}
		if br == nil {
			return 0, fmt.Errorf("patch port %s: bridge %s: %w", name, bridge, ErrNotFound)
		}
		opts := map[string]string{"peer": peer}
		ifc, err := d.iface(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
			if _, err := d.addPortNoWait(ctx, br, PortConfig{Name: name, Type: "patch", Options: opts}); err != nil {
				return 0, err
			}
			continue
		case err != nil:
			return 0, err
		}
		if ifc.Type != "patch" || !maps.Equal(ifc.Options, opts) {
			want := *ifc
			want.Type, want.Options = "patch", opts
			ops, err := d.c.Where(ifc).Update(&want, &want.Type, &want.Options)
			if err != nil {
				return 0, fmt.Errorf("patch port %s: %w", name, err)
			}
			if err := d.transactWait(ctx, ops); err != nil {
				return 0, fmt.Errorf("patch port %s: %w", name, err)
			}
		}
	}
	return d.waitOFPort(ctx, nameA)
}

// addPortNoWait adds a port to br and waits for vswitchd to apply the
// transaction, but not for an OpenFlow port (a patch port gets one only
// once its peer exists).
func (d *DB) addPortNoWait(ctx context.Context, br *vswitchd.Bridge, pc PortConfig) (string, error) {
	iface := &vswitchd.Interface{UUID: "wyviface", Name: pc.Name, Type: pc.Type,
		Options: maps.Clone(pc.Options), ExternalIDs: maps.Clone(pc.ExternalIDs)}
	port := &vswitchd.Port{UUID: "wyvport", Name: pc.Name, Interfaces: []string{iface.UUID}}
	ops, err := d.c.Create(iface, port)
	if err != nil {
		return "", fmt.Errorf("add port %s: %w", pc.Name, err)
	}
	mut, err := d.c.Where(br).Mutate(br, model.Mutation{
		Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID},
	})
	if err != nil {
		return "", fmt.Errorf("add port %s: %w", pc.Name, err)
	}
	if err := d.transactWait(ctx, append(ops, mut...)); err != nil {
		return "", fmt.Errorf("add port %s: %w", pc.Name, err)
	}
	return pc.Name, nil
}
