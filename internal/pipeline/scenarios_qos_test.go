package pipeline

// qosPorts: routedLocalNetworks with QoS on its local ports: vm1 limited
// both ways and marked, vm2 marked only; the remote vm3 carries a policy
// that its own chassis enforces, not this one.
func qosPorts() *View {
	v := routedLocalNetworks()
	for i := range v.Ports {
		switch v.Ports[i].ID {
		case "vm1":
			v.Ports[i].QoS = &PortQoS{EgressKbps: 10000, EgressBurstKbits: 8000, IngressKbps: 20000, IngressBurstKbits: 16000, MarkDSCP: true, DSCP: 46}
		case "vm2":
			v.Ports[i].QoS = &PortQoS{MarkDSCP: true, DSCP: 0}
		case "vm3":
			v.Ports[i].QoS = &PortQoS{EgressKbps: 5000, IngressKbps: 5000}
		}
	}
	return v
}
