package model

import (
	"strconv"
	"strings"
)

// PortForwarding is Neutron's floating-IP port forwarding (the
// floating-ip-port-forwarding extension, with its port ranges):
// traffic to the floating IP's external ports over Protocol is sent to
// InternalIPAddress, an IPv4 address of port InternalPortID, at the
// internal port (one port, 1-N) or at the same offset in the internal
// range (N-N), and its replies come back from the floating IP's port. A
// floating IP holds either an association (port_id) or port forwardings,
// never both. The forwardings are stored in their floating IP's record
// (FloatingIPRecord.PortForwardings), so that a change is one write of
// one key and reaches the chassis with the floating IP.
//
// The ranges are "min:max" and always set; ExternalPort and InternalPort
// are the port when the range holds one, else 0 (Neutron's null).
type PortForwarding struct {
	ID                string `json:"id"`
	Protocol          string `json:"protocol"`
	ExternalPort      int    `json:"external_port"`
	InternalPort      int    `json:"internal_port"`
	ExternalPortRange string `json:"external_port_range"`
	InternalPortRange string `json:"internal_port_range"`
	InternalIPAddress string `json:"internal_ip_address"`
	InternalPortID    string `json:"internal_port_id"`
	Description       string `json:"description"`
}

// PortForwardingProtocols are the protocols a port forwarding may name
// (Neutron's: those with L4 ports).
var PortForwardingProtocols = []string{"tcp", "udp"}

// ParsePortRange parses Neutron's port range: "min:max" or a single
// port, each 1..65535, min ≤ max.
func ParsePortRange(s string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(s, ":")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

// FormatPortRange is "lo:hi".
func FormatPortRange(lo, hi int) string { return strconv.Itoa(lo) + ":" + strconv.Itoa(hi) }

// ExternalRange is the forwarding's external ports.
func (pf *PortForwarding) ExternalRange() (lo, hi int) {
	return pf.portRange(pf.ExternalPortRange, pf.ExternalPort)
}

// InternalRange is the forwarding's internal ports.
func (pf *PortForwarding) InternalRange() (lo, hi int) {
	return pf.portRange(pf.InternalPortRange, pf.InternalPort)
}

func (pf *PortForwarding) portRange(r string, single int) (int, int) {
	if lo, hi, ok := ParsePortRange(r); ok {
		return lo, hi
	}
	return single, single
}
