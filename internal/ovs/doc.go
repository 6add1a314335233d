// Package ovs is Wyvern's generic Open vSwitch layer: an OVSDB client (DB)
// for bridges, ports, tunnel ports, interface monitoring and bridge
// external_ids, built on libovsdb and the generated vswitchd model; an
// OpenFlow 1.3 connection (OFConn) over a bridge's management socket with
// atomic bundles of flow mods, cookie sweeps, packet-in and packet-out;
// the encoder from internal/ofp flows and actions to OpenFlow wire
// messages (OXM/NXM matches, Nicira actions); and Appctl, a runner for
// ovs-appctl commands.
//
// It knows nothing of Wyvern's logical model: callers hand it ofp values
// and names.
package ovs
