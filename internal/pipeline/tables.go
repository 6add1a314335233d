package pipeline

import "strconv"

// ============================================================================
// The br-int pipeline, declared once, in order.
//
// A table's number is its position in the TableID block below: Classify is
// table 0 and every later stage follows. Packets only ever move forward
// (goto_table, or resubmit to a later table), so the order is the pipeline.
//
// To add a table:
//  1. insert its TableID in the const block at its place in the pipeline
//     (every later table's number shifts by one; that is fine, the
//     reconciler rewrites the flows and golden files show the change);
//  2. declare it in tableDecls: name, the features that need it, and a doc
//     comment saying what it matches and where packets go next;
//  3. give it a table-miss flow in (*compiler).defaults (drop, or continue to
//     the next table) and its flows in a compile* function;
//  4. run `go test ./internal/pipeline -update` and review the golden diff.
//
// Stages planned but not yet here: L3 (router MAC → route lookup, TTL, MAC
// rewrite, NAT) goes between NDReply and L2Lookup; EgressACL and IngressACL
// are placeholders today that pass everything.
// ============================================================================

// TableID names a table of the pipeline; its value is the table number.
type TableID uint8

// The tables, in pipeline order.
const (
	TableClassify TableID = iota
	TablePortSecurity
	TableEgressACL
	TableServices
	TableNDReply
	TableL2Lookup
	TableIngressACL
	TableOutput

	numTables // keep last
)

// Table is the declaration of one table.
type Table struct {
	ID       TableID
	Name     string
	Features []Feature // the features that need the table
	Doc      string
}

// Number is the OpenFlow table number.
func (id TableID) Number() uint8 { return uint8(id) }

// Name is the table's name as declared.
func (id TableID) Name() string { return tableDecls[id].Name }

// String is the table's name and number, e.g. "Classify(0)".
func (id TableID) String() string {
	return tableDecls[id].Name + "(" + strconv.Itoa(int(id)) + ")"
}

var tableDecls = [numTables]Table{
	TableClassify: {
		Name:     "Classify",
		Features: []Feature{FeatureClassify},
		Doc: "Maps in_port (a local VM interface) to the logical input port key " +
			"(reg5) and the network key (reg6), marking the packet local, then " +
			"goes to PortSecurity; maps a tunnel port plus tun_id to the network " +
			"key, marking the packet tunnel, then goes straight to L2Lookup (the " +
			"sending chassis already applied port security, ACLs and services). " +
			"Anything else is dropped.",
	},
	TablePortSecurity: {
		Name:     "PortSecurity",
		Features: []Feature{FeaturePortSecurity},
		Doc: "Egress anti-spoofing for local ports, keyed by reg5: only the " +
			"port's MAC with its fixed addresses or allowed address pairs may " +
			"send IPv4, ARP (sha and spa checked) or IPv6; DHCP from 0.0.0.0, " +
			"IPv6 link-local, DAD and ND with a truthful link-layer option are " +
			"allowed; everything else is dropped. A port with port security off " +
			"passes unchecked.",
	},
	TableEgressACL: {
		Name:     "EgressACL",
		Features: []Feature{FeatureACL},
		Doc: "Placeholder for security groups in the VM→network direction " +
			"(conntrack, per-network zone). Passes everything to Services today.",
	},
	TableServices: {
		Name:     "Services",
		Features: []Feature{FeatureARPResponder, FeatureND, FeatureDHCP},
		Doc: "Answers ARP requests for every known IPv4 address of the network " +
			"on this chassis (except the owner's own probes); turns neighbour " +
			"solicitations for known IPv6 addresses into advertisements and " +
			"hands them to NDReply (when Config.NDResponder is set); sends " +
			"DHCPv4 client traffic of ports on DHCP-enabled subnets to the " +
			"controller. The rest goes on to L2Lookup.",
	},
	TableNDReply: {
		Name:     "NDReply",
		Features: []Feature{FeatureND},
		Doc: "Reached only from the ND responder in Services, with the packet " +
			"already an advertisement (icmpv6_type 136): sets the target " +
			"link-layer address, which OVS only lets a flow matching an " +
			"advertisement write, and sends it back out of its ingress port. " +
			"Anything else is dropped.",
	},
	TableL2Lookup: {
		Name:     "L2Lookup",
		Features: []Feature{FeatureL2},
		Doc: "Destination MAC on the network (reg6): a local port loads its " +
			"ofport into reg7 and goes to IngressACL; a port on a remote chassis " +
			"sets tun_id/tun_dst and reg7=tunnel ofport and goes to Output. " +
			"Broadcast, multicast and unknown unicast are flooded to the local " +
			"ports and, only for locally sourced non-ARP traffic, to every " +
			"remote chassis with a port on the network.",
	},
	TableIngressACL: {
		Name:     "IngressACL",
		Features: []Feature{FeatureACL},
		Doc: "Placeholder for security groups of the destination port (reg7). " +
			"Passes everything to Output today.",
	},
	TableOutput: {
		Name:     "Output",
		Features: []Feature{FeatureOutput},
		Doc: "Delivers to the OpenFlow port in reg7: a local VM interface, or a " +
			"tunnel port with tun_id/tun_dst already set (encapsulation). " +
			"Unknown reg7 values are dropped.",
	},
}

// Tables returns the pipeline's table declarations in order.
func Tables() []Table {
	out := make([]Table, numTables)
	for i := range tableDecls {
		out[i] = tableDecls[i]
		out[i].ID = TableID(i)
		out[i].Features = append([]Feature(nil), tableDecls[i].Features...)
	}
	return out
}
