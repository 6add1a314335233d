// Package logical turns the model records one chassis knows (networks,
// subnets, ports, routers, floating IPs, security group rules, chassis)
// into the pipeline's input, pipeline.View: the translation the agent
// compiles and wyvernctl trace explains, so that the two can never
// disagree.
//
// It owns every table of names and numbers that translation needs: the
// datapath keys of networks, ports, routers and groups (Keys), the
// conversion of ports and rules (ConvertPort, ConvertRule, with
// model.ProtocolNumber), the conntrack zones the API allocated
// (model.Network.CTZone, model.RouterRecord.CTZone), and the election of a
// router's active gateway chassis (GatewayChassis).
//
// The package is pure: it imports only model, pipeline and the standard
// library, does no I/O and keeps no state but the Keys its caller passes.
// Build is called by the agent's loop, which owns the records, the
// watches and the switch.
package logical
