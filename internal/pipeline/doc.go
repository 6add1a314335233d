// Package pipeline declares Wyvern's br-int OpenFlow pipeline as data —
// tables in order (tables.go), registers and cookies (fields.go) — and
// compiles a chassis' local View of the logical topology into the desired
// flows with the pure function Compile. Diff compares desired flows with the
// installed ones for the reconciler. The package does no I/O: the agent
// builds the View, the OVS layer programs the result.
//
// A packet's path:
//
//	Classify → PortSecurity → EgressACL → Services ─→ L2Lookup → IngressACL → Output
//	   │                                     └→ NDReply ─→ back out (IN_PORT)
//	   └── tunnel in ──────────────────────────────────────┘
//
// Golden files in testdata hold the compiled flows of representative
// topologies as sorted ovs-ofctl text; `go test ./internal/pipeline -update`
// rewrites them.
package pipeline
