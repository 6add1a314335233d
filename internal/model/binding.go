package model

// PortBinding is a chassis' binding of a port: where it is plugged and
// whether it is up. Each chassis writes its own (store.BindingKey), never
// the port record; the server mirrors the binding the port reports
// (store.BindingMirrorKey), with Chassis and Hosts filled.
type PortBinding struct {
	// Chassis is the chassis of the mirrored binding (empty in a
	// chassis' own key, whose name says it).
	Chassis string `json:"chassis,omitempty"`
	// Hosts are every chassis holding a binding of the port (mirror only).
	Hosts      []string       `json:"hosts,omitempty"`
	NetworkID  string         `json:"network_id"`
	Status     string         `json:"status"`
	VIFType    string         `json:"binding:vif_type"`
	VIFDetails map[string]any `json:"binding:vif_details"`
}

// Apply overlays the binding on a port record: the port as it is
// reported. A nil binding leaves the record as stored (the binding
// requested through the API, or one stored in the record by an agent of
// an older version).
func (b *PortBinding) Apply(p *Port) {
	if b == nil || b.Chassis == "" {
		return
	}
	p.HostID, p.Status, p.VIFType, p.VIFDetails = b.Chassis, b.Status, b.VIFType, b.VIFDetails
}
