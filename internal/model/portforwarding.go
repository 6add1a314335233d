package model

// PortForwarding is Neutron's floating-IP port forwarding (the
// floating-ip-port-forwarding extension): traffic to the floating IP's
// ExternalPort over Protocol is sent to InternalIPAddress:InternalPort, an
// IPv4 address of port InternalPortID, and its replies come back from the
// floating IP's ExternalPort. A floating IP holds either an association
// (port_id) or port forwardings, never both. The forwardings are stored in
// their floating IP's record (FloatingIPRecord.PortForwardings), so that
// a change is one write of one key and reaches the chassis with the
// floating IP.
type PortForwarding struct {
	ID                string `json:"id"`
	Protocol          string `json:"protocol"`
	ExternalPort      int    `json:"external_port"`
	InternalPort      int    `json:"internal_port"`
	InternalIPAddress string `json:"internal_ip_address"`
	InternalPortID    string `json:"internal_port_id"`
	Description       string `json:"description"`
}

// PortForwardingProtocols are the protocols a port forwarding may name
// (Neutron's: those with L4 ports).
var PortForwardingProtocols = []string{"tcp", "udp"}
