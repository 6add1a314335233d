// Package dhcp is the distributed DHCPv4 responder that a Wyvern agent runs
// for the VMs on its own chassis.
//
// As in Dragonflow and OVN, no DHCP server process serves a network: the
// pipeline sends every DHCP client frame from a local port to the agent as an
// OpenFlow packet-in, and the agent answers with a packet-out built by
// [Respond]. Respond is pure: it takes the received Ethernet frame and a
// lookup from client MAC to the port's [Lease], and returns the complete reply
// frame (Ethernet, IPv4 and UDP headers with correct checksums) or nil when
// the message needs no answer. It does no I/O, keeps no state and never
// panics, so the agent may call it from any goroutine.
//
// The responder is authoritative: every address on a tenant network is
// decided by Neutron IPAM, so a REQUEST for an address other than the port's
// own, or naming a server other than this one, is refused with a NAK and the
// client starts over with a DISCOVER.
//
// Messages are encoded and decoded with github.com/insomniacslk/dhcp/dhcpv4,
// frames with github.com/gopacket/gopacket/layers.
package dhcp
