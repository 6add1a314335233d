// Package pipeline declares Wyvern's br-int OpenFlow pipeline as data —
// tables in order (tables.go), registers and cookies (fields.go) — and
// compiles a chassis' local View of the logical topology into the desired
// flows with the pure function Compile. CompileSections yields the same
// flows in sections, each with a fingerprint of its inputs, reusing the
// previous compilation's unchanged sections: the agent's reconciler
// (internal/agent/reconcile.go) compares only the sections that changed
// with what is installed and applies the difference in one bundle. The
// package does no I/O: the agent builds the View, the OVS layer programs
// the result.
//
// A packet's path:
//
//	Classify → PortSecurity → EgressACL → Services ─→ L2Lookup ─────────────→ IngressACL → IngressACLEval → Output
//	   │                          ↺ ct         └→ NDReply  │  ↑ router MAC          ↑ routed to a local port
//	   ├── tunnel in ───────────────────────────────────────┘  └→ L3DNAT ↺ct → L3Route ─→ tunnel (egress VNI)
//	   └── external port → Services                                              └→ L3SNAT → L3SNATCommit → L3Out → br-ex
//
// Neighbour, a lookup table reached by resubmit, holds the MAC of every
// known IPv4 address per network, once: the ARP responder (Services, then
// ARPReply) and L3Route (which then hands the packet back to the egress
// network's L2Lookup, once per packet) both read it.
//
// Routing is distributed (the chassis where a packet enters routes it and
// sends it straight to the destination chassis with the egress network's
// key); security groups are stateful (conntrack, a zone per network);
// floating IPs are NATed on the chassis hosting the port, other SNAT on the
// router's active gateway chassis.
//
// The compiler is split into units, each in its own file with the
// fingerprints of its sections next to the code reading their inputs:
// base.go (miss flows, shared port security and ARP responder), l2.go (a
// section per network with local ports), l3.go (routing and NAT), acl.go
// (security groups) and output.go. compile.go derives the index they all
// read, once per compilation; sections.go runs them.
//
// Golden files in testdata hold the compiled flows of representative
// topologies as sorted ovs-ofctl text; `go test ./internal/pipeline -update`
// rewrites them.
package pipeline
