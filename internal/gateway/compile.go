package gateway

import (
	"net"
	"net/netip"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// ============================================================================
// The br-edge pipeline, declared once, in order. Every flow comes from
// Compile, a pure function of the View and the bridge's Ports; golden files
// (testdata/*.golden, `go test ./internal/gateway -update`) show every
// change. To add a table, append it to Tables with its doc, give it a miss
// flow and its flows in Compile, then update the golden files.
// ============================================================================

// Table is one table of the pipeline.
type Table struct {
	Number uint8
	Name   string
	Doc    string
}

// The tables, in pipeline order.
var (
	TableClassify = Table{0, "Classify", "Sends the uplink's packets to Inbound, the tunnels' to " +
		"Outbound, and the host's own (LOCAL: ARP, BGP, ARP resolution of the upstream " +
		"router) to the uplink. Anything else is dropped."}
	TableInbound = Table{1, "Inbound", "Destination floating IP, sent to the uplink's MAC: rewrites to the fixed " +
		"address, the VM's MAC from its router's MAC, decrements the TTL and tunnels to " +
		"the VM's chassis with the network's key. Any other packet goes to LOCAL, the " +
		"host stack (ARP for the uplink address, BGP)."}
	TableOutbound = Table{2, "Outbound", "From a chassis by tunnel, source the fixed address of " +
		"a floating IP of any pool on its network's key: rewrites the source to the floating IP, the MACs " +
		"to the uplink's and the upstream router's, decrements the TTL and sends it up. " +
		"Anything else is dropped."}
	Tables = []Table{TableClassify, TableInbound, TableOutbound}
)

// Ports are the gateway bridge's OpenFlow ports and MACs.
type Ports struct {
	Uplink uint32
	Geneve uint32 // 0: no Geneve tunnel port
	VXLAN  uint32 // 0: no VXLAN tunnel port
	// UplinkMAC is the source MAC of packets sent up (the MAC of the
	// bridge's LOCAL interface, which holds the uplink address).
	UplinkMAC net.HardwareAddr
	// UpstreamMAC is the upstream router's MAC; nil while unresolved,
	// when no outbound flow is compiled.
	UpstreamMAC net.HardwareAddr
}

// PortLocal is OpenFlow's LOCAL port, the bridge's own interface.
const PortLocal uint32 = 0xfffffffe

// Priorities.
const (
	prioFIP  = 100
	prioPass = 10
	prioMiss = 0
)

func (p Ports) tunnel(encap string) uint32 {
	switch encap {
	case "geneve":
		return p.Geneve
	case "vxlan":
		return p.VXLAN
	}
	return 0
}

// Compile returns the gateway bridge's flows for v (cookies unset: the
// reconciler stamps them): the fixed flows, then each floating IP's.
func Compile(v *View, p Ports) []ofp.Flow {
	out := compileFixed(p)
	for _, f := range v.FIPs {
		out = append(out, compileFIP(f, p, true)...)
	}
	// The other pools' addresses: outbound only (View.Outbound).
	for _, f := range v.Outbound {
		out = append(out, compileFIP(f, p, false)...)
	}
	return out
}

// compileFixed returns the flows that do not depend on any floating IP.
func compileFixed(p Ports) []ofp.Flow {
	var out []ofp.Flow
	add := func(t Table, prio uint16, match []ofp.Field, acts ...ofp.Action) {
		out = append(out, ofp.Flow{Table: t.Number, Priority: prio, Match: match, Actions: acts})
	}
	// Classify.
	add(TableClassify, prioPass, []ofp.Field{ofp.InPort(p.Uplink)}, ofp.Goto{Table: TableInbound.Number})
	for _, tp := range []uint32{p.Geneve, p.VXLAN} {
		if tp != 0 {
			add(TableClassify, prioPass, []ofp.Field{ofp.InPort(tp)}, ofp.Goto{Table: TableOutbound.Number})
		}
	}
	add(TableClassify, prioPass, []ofp.Field{ofp.InPort(PortLocal)}, ofp.Output{Port: p.Uplink})
	add(TableClassify, prioMiss, nil)
	add(TableInbound, prioMiss, nil, ofp.Output{Port: PortLocal})
	add(TableOutbound, prioMiss, nil)
	return out
}

// compileFIP returns one floating IP's flows: Inbound (when inbound: the
// gateway's pool serves it) and Outbound.
func compileFIP(f FIP, p Ports, inbound bool) []ofp.Flow {
	tp := p.tunnel(f.Encap)
	if tp == 0 {
		return nil
	}
	var out []ofp.Flow
	if inbound {
		match := []ofp.Field{ofp.EthType(ofp.EthTypeIPv4), ofp.IPDst(host(f.FloatingIP))}
		if p.UplinkMAC != nil {
			// Only frames sent to this gateway: a frame flooded to every
			// gateway (a switch's unknown unicast) is NATed once, by its
			// addressee, and a gateway whose uplink died loses its
			// traffic rather than others carrying it by accident.
			match = append(match, ofp.EthDst(p.UplinkMAC))
		}
		out = append(out, ofp.Flow{Table: TableInbound.Number, Priority: prioFIP, Match: match, Actions: []ofp.Action{
			set(ofp.EthSrc(f.RouterMAC)),
			set(ofp.EthDst(f.VMMAC)),
			set(ofp.IPDst(host(f.FixedIP))),
			ofp.DecTTL{},
			set(ofp.Field{Kind: ofp.FTunID, Value: uint64(f.TunnelKey)}),
			set(ofp.Field{Kind: ofp.FTunIPv4Dst, Prefix: host(f.ChassisIP)}),
			ofp.Output{Port: tp},
		}})
	}
	if p.UpstreamMAC == nil || p.UplinkMAC == nil {
		return out
	}
	return append(out, ofp.Flow{Table: TableOutbound.Number, Priority: prioFIP,
		Match: []ofp.Field{ofp.InPort(tp), ofp.TunID(uint64(f.TunnelKey)), ofp.EthType(ofp.EthTypeIPv4), ofp.IPSrc(host(f.FixedIP))},
		Actions: []ofp.Action{
			set(ofp.EthSrc(p.UplinkMAC)),
			set(ofp.EthDst(p.UpstreamMAC)),
			set(ofp.IPSrc(host(f.FloatingIP))),
			ofp.DecTTL{},
			ofp.Output{Port: p.Uplink},
		}})
}

func set(f ofp.Field) ofp.Action { return ofp.SetField{Field: f} }

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
