package pipeline

import (
	"strconv"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// ============================================================================
// The br-int pipeline, declared once, in order.
//
// tableDecls lists the tables in pipeline order: packets only ever move
// forward in that order (goto_table, resubmit to a later stage, or ct
// recirculation to the same or a later stage), so the order is the
// pipeline and no packet can loop. One exception: L3Route hands a routed
// packet back to L2Lookup, the egress network's switch, for delivery. It
// cannot loop either: L3Route only sees packets with a router key in
// metadata, and L2Lookup only sends packets with metadata 0 into a router,
// so a packet is routed at most once per chassis (TestFlowInvariants checks
// both sides). Neighbour is a lookup table: it only loads registers, and
// the resubmit that reaches it returns to its caller.
//
// A table's number is its TableID. The first eight (Classify..Output) are
// numbered by position; the stages added for routing, NAT and security
// groups are numbered from 8 upwards in the order they were added, so that
// the flows of a view without routers, security groups or NAT stay byte for
// byte what they were (installed cookies, golden files). Where a later
// stage has a lower number (L3Route → IngressACL, IngressACLEval → Output)
// the flow uses resubmit, since goto_table must go to a higher number.
//
// The main path is the declared order without the tables marked OffPath
// (reached only by resubmit or ct recirculation from another table): a
// table's Next is the next table on it, where its Miss and its flows
// continue a packet they let through (NextTable: goto_table, or resubmit
// to a lower number). Other links are jumps, written out where they are.
//
// Every table has a table-miss flow, made from its declaration's Miss
// (missFlows): a base table's in every pipeline, in the base section; a
// later table's by the unit of the feature owning it (its first Feature),
// when that feature compiles flows.
//
// To add a table:
//  1. add its TableID after the last one (numbers never change once
//     installed: renumbering rewrites every flow of every chassis);
//  2. declare it in tableDecls at its place in the pipeline: name, the
//     features that need it (the owner first), whether it is off the main
//     path, its miss, and a doc saying what it matches and where packets
//     go next;
//  3. compile its flows in the owner's unit, which calls missFlows when
//     the table is in use;
//  4. run `go test ./internal/pipeline -update` and review the golden diff.
// ============================================================================

// TableID names a table of the pipeline; its value is the table number.
type TableID uint8

// The tables. Their numbers are stable; tableDecls gives their order.
const (
	TableClassify TableID = iota
	TablePortSecurity
	TableEgressACL
	TableServices
	TableNDReply
	TableL2Lookup
	TableIngressACL
	TableOutput

	numBaseTables // the tables every view uses (they always have a miss flow)
)

// Tables of routing, NAT, security groups and the neighbour lookup
// (numbers after the base ones).
const (
	TableL3DNAT TableID = numBaseTables + iota
	TableL3Route
	TableL3SNAT
	TableL3SNATCommit
	TableL3Out
	TableIngressACLEval
	TableNeighbour
	TableARPReply
	TableMeterIn
	TableMeterOut
	TableMeterCount
	TableQoS

	numTables // keep last
)

// Table is the declaration of one table.
type Table struct {
	ID   TableID
	Name string
	// Features are the features that need the table, its owner first.
	Features []Feature
	// OffPath says the table is not on the main path: it is only reached
	// by resubmit or ct recirculation from another table, and Next skips
	// it.
	OffPath bool
	// Miss is what its table-miss flow does.
	Miss Miss
	Doc  string
}

// Miss is what a table does with a packet none of its flows match: its
// table-miss flow (priority 0, FeatureDefault).
type Miss uint8

// Misses.
const (
	MissDrop Miss = iota // drop the packet
	MissNext             // go on to the table's Next
	// MissNeighbourClear clears the result registers of a Neighbour
	// lookup (NeighbourClear) and returns to the resubmit.
	MissNeighbourClear
)

// Next is the next table on the main path after id; false when there is
// none.
func (id TableID) Next() (TableID, bool) {
	n := nextTable[id]
	return n, n != numTables
}

// nextTable maps a TableID to its Next (numTables: none).
var nextTable = func() [numTables]TableID {
	var next [numTables]TableID
	for i, d := range tableDecls {
		next[d.ID] = numTables
		for _, e := range tableDecls[i+1:] {
			if !e.OffPath {
				next[d.ID] = e.ID
				break
			}
		}
	}
	return next
}()

// NextTable is the action continuing a packet from table id at its Next:
// goto_table, or resubmit when the next table has a lower number
// (goto_table only goes forward). It panics if id has no Next: a
// declaration error.
func NextTable(id TableID) ofp.Action {
	n, ok := id.Next()
	if !ok {
		panic("pipeline: table " + id.String() + " has no next table")
	}
	if n > id {
		return ofp.Goto{Table: n.Number()}
	}
	return ofp.Resubmit{Table: n.Number()}
}

// missFlows adds the table-miss flows of the tables of owner: for
// FeatureDefault the base tables (below TableL3DNAT), in every pipeline;
// for another feature the later tables whose first Feature it is.
func missFlows(e *emitter, owner Feature) {
	for i := range tableDecls {
		t := &tableDecls[i]
		if owner == FeatureDefault && t.ID >= numBaseTables ||
			owner != FeatureDefault && (t.ID < numBaseTables || t.Features[0] != owner) {
			continue
		}
		switch t.Miss {
		case MissDrop:
			e.add(t.ID, prioMiss, FeatureDefault, nil)
		case MissNext:
			e.add(t.ID, prioMiss, FeatureDefault, nil, NextTable(t.ID))
		case MissNeighbourClear:
			clear := NeighbourClear()
			e.add(t.ID, prioMiss, FeatureDefault, nil, clear[0], clear[1])
		}
	}
}

// Number is the OpenFlow table number.
func (id TableID) Number() uint8 { return uint8(id) }

// Name is the table's name as declared.
func (id TableID) Name() string { return tableDecls[tableOrder[id]].Name }

// String is the table's name and number, e.g. "Classify(0)".
func (id TableID) String() string {
	return id.Name() + "(" + strconv.Itoa(int(id)) + ")"
}

// Stage is the table's position in the pipeline (0 for Classify).
func (id TableID) Stage() int { return tableOrder[id] }

// tableOrder maps a TableID to its index in tableDecls.
var tableOrder = func() [numTables]int {
	var o [numTables]int
	for i, d := range tableDecls {
		o[d.ID] = i
	}
	return o
}()

var tableDecls = [numTables]Table{{
	ID:       TableClassify,
	Name:     "Classify",
	Features: []Feature{FeatureClassify, FeatureL3},
	Doc: "Maps in_port (a local VM interface) to the logical input port key " +
		"(reg5) and the network key (reg6), marking the packet local and " +
		"from a VM port (reg0[4..5]) and loading the port's ACL word into " +
		"reg3 when its security groups are enforced, then (a port with " +
		"an egress limit or a DSCP mark: after a resubmit to QoS) goes to " +
		"PortSecurity. For a port " +
		"with port security this is the first stage of the check: only its " +
		"MACs (its own and its allowed address pairs') are classified, " +
		"marked VMPortSecured, so a frame from any other MAC is dropped; a " +
		"port without is classified from any MAC, marked VMPortUnsecured. " +
		"Maps a tunnel port plus tun_id to the network " +
		"key, marking the packet tunnel, then goes straight to L2Lookup (the " +
		"sending chassis already applied port security, ACLs and services); " +
		"maps the port to an external network's bridge to that network's " +
		"key, marking the packet local, then goes to Services, except the " +
		"ARP replies and neighbour advertisements of the network's upstream " +
		"router, sent to the controller (edge.go, ipv6gw.go); maps the port to a vlan or flat network's " +
		"physical network, with the network's VLAN id (popped) or untagged, " +
		"to that network, marking the packet provider, then goes straight " +
		"to L2Lookup, and drops tagged frames of other VLANs there " +
		"(provider.go). Anything else is dropped.",
}, {
	ID:       TableQoS,
	Name:     "QoS",
	Features: []Feature{FeatureQoS},
	OffPath:  true,
	Doc: "Reached only by resubmit from the Classify flow of a local port " +
		"with a QoS policy (qos.go), to which it returns: per port (reg5), " +
		"its IPv4 and IPv6 packets pass the port's egress meter (a " +
		"bandwidth_limit rule, direction egress: what the VM sends) and get " +
		"its DSCP mark (a dscp_marking rule); its other packets pass the " +
		"meter only. A packet over the meter's rate is dropped. The miss " +
		"does nothing: the packet goes on unchanged.",
}, {
	ID:       TablePortSecurity,
	Name:     "PortSecurity",
	Features: []Feature{FeaturePortSecurity},
	Doc: "Egress anti-spoofing for local ports, second stage (Classify " +
		"verified the source MAC): per port (reg5), only the port's MAC with " +
		"its fixed addresses, or an allowed address pair's MAC with its " +
		"prefix, may send IPv4, ARP (sha and spa checked, spa 0.0.0.0 for " +
		"probes) or IPv6 from a global address, and ND only with its own " +
		"MAC as link-layer option and own addresses; shared flows, for any " +
		"VMPortSecured packet, allow IPv6 link-local, DHCP discover from " +
		"0.0.0.0, MLDv2 and DAD from ::, and link-local ND without a " +
		"link-layer option. RAs, DHCP server replies and other ND are " +
		"dropped, as is everything else. VMPortUnsecured (port security " +
		"off) passes unchecked.",
}, {
	ID:       TableEgressACL,
	Name:     "EgressACL",
	Features: []Feature{FeatureACL},
	Miss:     MissNext,
	Doc: "Security groups in the VM→network direction, stateful. Untracked " +
		"IP traffic with ACLTrackField set (a port with port security and " +
		"View.SecurityGroupsEnabled, marked by Classify) is sent through " +
		"conntrack in the zone of reg3, recirculating to this same table " +
		"(two flows for every port): invalid is dropped, established and " +
		"related pass, new connections allowed by an egress rule of the " +
		"port's groups (direct flows, or a conjunction for a remote group; " +
		"matched on ACLGroupField once per group for the ports in a single " +
		"group, on reg5 for the others) are committed and pass; the rest is " +
		"dropped. DHCP, DHCPv6 and ND always pass. Everything else (ARP, " +
		"ports without security groups enforcement) goes on to Services.",
}, {
	ID:       TableServices,
	Name:     "Services",
	Features: []Feature{FeatureARPResponder, FeatureND, FeatureDHCP, FeatureL3},
	Miss:     MissNext,
	Doc: "ARP requests: the owner probing or announcing its own address " +
		"goes on to L2Lookup unanswered; any other request copies arp_tpa " +
		"into reg12, looks it up in Neighbour and goes to ARPReply. Answers " +
		"ICMP echo requests sent to a router " +
		"address; turns neighbour solicitations for known IPv6 addresses " +
		"into advertisements and hands them to NDReply (when " +
		"Config.NDResponder is set); sends DHCPv4 client traffic from local VM " +
		"ports (reg0[4]) on a network with a DHCP-enabled subnet to the " +
		"controller, one flow per network (the controller reads the port " +
		"from reg5 in the packet-in), except from the ports without an " +
		"address on such a subnet; sends router solicitations (on a network " +
		"with a subnet that has an ipv6_ra_mode) and DHCPv6 client messages " +
		"(with a DHCPv6 address mode) from local VM ports to the controller, " +
		"one flow each per network; answers neighbour solicitations for the " +
		"routers' IPv6 addresses and link-local addresses, and ICMPv6 echo " +
		"to them. The rest goes on to L2Lookup.",
}, {
	ID:       TableARPReply,
	Name:     "ARPReply",
	Features: []Feature{FeatureARPResponder},
	OffPath:  true,
	Miss:     MissNext,
	Doc: "Reached only from the ARP responder in Services, after the " +
		"Neighbour lookup: when it found the address (reg14[16]), turns the " +
		"request into the reply from the MAC it found (reg13, reg14[0..15]) " +
		"and sends it back out of its ingress port; otherwise the request " +
		"goes on to L2Lookup (resubmit: a later stage with a lower number).",
}, {
	ID:       TableNDReply,
	Name:     "NDReply",
	Features: []Feature{FeatureND},
	OffPath:  true,
	Doc: "Reached only from the ND responder in Services, with the packet " +
		"already an advertisement (icmpv6_type 136): sets the target " +
		"link-layer address, which OVS only lets a flow matching an " +
		"advertisement write, and sends it back out of its ingress port. " +
		"Anything else is dropped.",
}, {
	ID:       TableL2Lookup,
	Name:     "L2Lookup",
	Features: []Feature{FeatureL2, FeatureL3},
	Doc: "Destination MAC on the network (reg6): a local port (through " +
		"its ingress meter when its QoS limits what it receives) loads its " +
		"ofport into reg7 (and, with security groups in use, its ACL word " +
		"into reg3, 0 when not enforced) and goes to IngressACL; a port on a remote chassis " +
		"sets tun_id/tun_dst and reg7=tunnel ofport and goes to Output; a " +
		"router port's MAC, for a packet not yet routed (metadata 0), loads " +
		"the router key into metadata and goes to L3DNAT. Broadcast and " +
		"multicast are flooded to the local ports and, only for locally " +
		"sourced non-ARP traffic, to every remote chassis with a port on " +
		"the network. Unknown unicast goes only to the ports without port " +
		"security (the only ones that may own MACs the model does not " +
		"know: OVN's \"unknown\" addresses) and the chassis holding them; " +
		"with none it is dropped. A routed packet (metadata = the router " +
		"key, back from L3Route) to no known port is dropped, never flooded. " +
		"On a vlan or flat network nothing is tunnelled: what goes to " +
		"another chassis, floods and unknown unicast leave by the physical " +
		"network's port with the VLAN id pushed (provider.go); from there, " +
		"floods go to the local ports only.",
}, {
	ID:       TableL3DNAT,
	Name:     "L3DNAT",
	Features: []Feature{FeatureL3},
	Miss:     MissNext,
	Doc: "Router (metadata) ingress. From an external network (reg6): " +
		"untracked IPv4 to a local floating IP or to the local active " +
		"gateway's address goes through conntrack in the router's NAT zone " +
		"(ct nat) and recirculates here; new connections to a floating IP " +
		"are committed with DNAT to the fixed IP; established and related " +
		"(translated) go on to L3Route; IPv6 from outside goes on to L3Route " +
		"on the active gateway chassis, untranslated (ipv6gw.go), except to " +
		"the external subnet; anything else from outside is " +
		"dropped. Traffic from internal networks goes on to L3Route.",
}, {
	ID:       TableL3Route,
	Name:     "L3Route",
	Features: []Feature{FeatureL3},
	Doc: "Longest prefix match (priority grows with the prefix length) on " +
		"the router (metadata) and nw_dst. A connected subnet of a network " +
		"with local ports: dec_ttl, eth_src := the router's MAC on it, reg6 " +
		":= the network, nw_dst looked up in Neighbour (reg12), eth_dst := " +
		"the MAC found, and back to L2Lookup, which delivers it to a local " +
		"port or straight into the tunnel to the port's chassis with the " +
		"network's key (an unknown address or unreachable port is dropped " +
		"there). A network without local port has no L2 stage here: a host " +
		"route per reachable port and an extra route's nexthop port do the " +
		"same with eth_dst := the port's MAC and deliver it themselves (a " +
		"local port via IngressACL, reg7 = its ofport; a remote one into " +
		"the tunnel; with security groups in use reg3 = its ACL word); its " +
		"other addresses are dropped. IPv6 is routed by host route (/128) " +
		"to every address of the ports on the router's IPv6 subnets, " +
		"delivered as above, the rest of those subnets dropped, plus extra " +
		"routes via such a port. The external subnet " +
		"and the default route go to L3SNAT when the router has a gateway; " +
		"for IPv6, without NAT, straight out to the upstream router from the " +
		"router's active gateway chassis, and into the tunnel to it, " +
		"unrouted, from the others (ipv6gw.go).",
}, {
	ID:       TableL3SNAT,
	Name:     "L3SNAT",
	Features: []Feature{FeatureL3},
	Doc: "Traffic leaving the router towards its external network goes " +
		"through conntrack in the router's NAT zone (ct nat: replies of " +
		"DNATed connections and packets of SNATed ones are translated) and " +
		"recirculates to L3SNATCommit.",
}, {
	ID:       TableL3SNATCommit,
	Name:     "L3SNATCommit",
	Features: []Feature{FeatureL3},
	Doc: "Established and related traffic goes to L3Out. New connections " +
		"from a local port with a floating IP are committed with SNAT to the " +
		"floating IP; on the router's active gateway chassis new connections " +
		"from the router's subnets are committed with SNAT to the gateway " +
		"address; elsewhere the subnets' traffic, in any conntrack state, is " +
		"tunnelled unchanged (still addressed to the router's MAC, on the " +
		"ingress network's key) to the active gateway chassis, which routes " +
		"it again (a reply of a connection the gateway DNATed looks invalid " +
		"here). The rest is dropped.",
}, {
	ID:       TableL3Out,
	Name:     "L3Out",
	Features: []Feature{FeatureL3},
	Doc: "By the translated source (a floating IP or a gateway address): " +
		"dec_ttl, eth_src := the address's external MAC, eth_dst := the " +
		"external network's next hop, and out to the external network's " +
		"bridge port. Anything else is dropped.",
}, {
	ID:       TableIngressACL,
	Name:     "IngressACL",
	Features: []Feature{FeatureACL},
	Miss:     MissNext,
	Doc: "Security groups of the local destination port (reg7), stateful: " +
		"IP traffic with ACLTrackField set (loaded with the port's ACL word " +
		"by the flow that chose the port: a port with security groups " +
		"enforced) goes through conntrack in the zone of reg3, " +
		"recirculating to IngressACLEval (two flows for every port); DHCP " +
		"replies, DHCPv6 replies and ND always pass. Everything else goes on " +
		"to Output.",
}, {
	ID:       TableIngressACLEval,
	Name:     "IngressACLEval",
	Features: []Feature{FeatureACL},
	OffPath:  true,
	Doc: "After conntrack: invalid is dropped, established and related are " +
		"output to reg7, new connections allowed by an ingress rule of the " +
		"port's groups (matched on ACLGroupField once per group for the " +
		"ports in a single group, on reg7 for the others; a conjunction " +
		"with the members' addresses for a remote group) are committed and " +
		"output; the rest is dropped.",
}, {
	ID:       TableOutput,
	Name:     "Output",
	Features: []Feature{FeatureOutput},
	Doc: "Delivers to the OpenFlow port in reg7 (output:reg7, one flow): a " +
		"local VM interface, or a tunnel port with tun_id/tun_dst already " +
		"set (encapsulation). Output to the packet's own in_port is dropped " +
		"by OpenFlow, so a flood never returns to its sender.",
}, {
	ID:       TableNeighbour,
	Name:     "Neighbour",
	Features: []Feature{FeatureARPResponder, FeatureL3},
	OffPath:  true,
	Miss:     MissNeighbourClear,
	Doc: "The MAC of every known IPv4 address, per network: one flow per " +
		"(reg6, reg12) (every address of a network with local ports, its " +
		"routers' addresses, and on an external network the local floating " +
		"IPs and the local active gateway's address) loads the owner's MAC " +
		"into reg13 and reg14[0..15] and sets reg14[16]; the miss clears " +
		"them. A lookup table, only reached by resubmit from the ARP " +
		"responder (Services) and from L3Route, to which it returns.",
}, {
	ID:       TableMeterIn,
	Name:     "MeterIn",
	Features: []Feature{FeatureMetering},
	OffPath:  true,
	Doc: "Metering, traffic entering a router from its external network: " +
		"reached only by resubmit from the L3DNAT flows that let it in (a " +
		"new connection to a floating IP, with the destination DNAT gives " +
		"it, restored after; established or related traffic, already " +
		"translated), to which it returns. Per metered router (metadata), " +
		"loads each of its labels' key (ingress: bit 16 clear) into " +
		"MeterLabelField and looks the packet up in MeterCount, once per " +
		"label. Changes nothing else of the packet.",
}, {
	ID:       TableMeterOut,
	Name:     "MeterOut",
	Features: []Feature{FeatureMetering},
	OffPath:  true,
	Doc: "Metering, traffic leaving a router to its external network: " +
		"reached only by resubmit from L3SNAT, before SNAT, to which it " +
		"returns; as MeterIn, with the egress bit, but only for what this " +
		"chassis NATs: every packet of a router whose active gateway it is, " +
		"else the packets from its local floating IPs' fixed addresses (the " +
		"rest is tunnelled to the gateway, which counts it).",
}, {
	ID:       TableMeterCount,
	Name:     "MeterCount",
	Features: []Feature{FeatureMetering},
	OffPath:  true,
	Doc: "Metering counters: one flow per label rule, matching its label's " +
		"key and direction (MeterLabelField) and the rule's prefix on the " +
		"external side (nw_src in, nw_dst out) or its source and " +
		"destination prefixes, with no action: its flow " +
		"stats are the rule's counters, the rule's key in its cookie " +
		"(CookieMeterRule). Excluded rules take precedence over the " +
		"others, so what they match is counted by no rule of the label. " +
		"The miss counts nothing; every lookup returns to MeterIn or " +
		"MeterOut.",
}}

// Tables returns the pipeline's table declarations in pipeline order.
func Tables() []Table {
	out := make([]Table, numTables)
	for i := range tableDecls {
		out[i] = tableDecls[i]
		out[i].Features = append([]Feature(nil), tableDecls[i].Features...)
	}
	return out
}
