package model

import (
	"maps"
	"slices"
)

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
	// Endpoint is how the other chassis reach the binding's chassis
	// (written by its agent, carried by the mirror): a chassis learns
	// the tunnel endpoints of the hosts of the ports it holds with their
	// bindings, without watching every chassis' registration. Nil in a
	// binding written by an older agent.
	Endpoint *Endpoint `json:"endpoint,omitempty"`
}

// Endpoint is what the views of other chassis read of a chassis'
// registration (Chassis): its tunnel endpoint, bridge mappings and
// floating-IP mode.
type Endpoint struct {
	TunnelIP       string            `json:"tunnel_ip"`
	TunnelMAC      string            `json:"tunnel_mac,omitempty"`
	Encaps         []string          `json:"encaps"`
	BridgeMappings map[string]string `json:"bridge_mappings,omitempty"`
	FIPMode        string            `json:"fip_mode,omitempty"`
}

// EndpointOf is the endpoint of a chassis' registration.
func EndpointOf(c Chassis) *Endpoint {
	return &Endpoint{TunnelIP: c.TunnelIP, TunnelMAC: c.TunnelMAC, Encaps: c.Encaps, BridgeMappings: c.BridgeMappings, FIPMode: c.FIPMode}
}

// Chassis is the registration of chassis name as far as the endpoint
// tells it (never a gateway: gateways are known by their own
// registrations).
func (e *Endpoint) Chassis(name string) Chassis {
	return Chassis{Name: name, TunnelIP: e.TunnelIP, TunnelMAC: e.TunnelMAC, Encaps: e.Encaps, BridgeMappings: e.BridgeMappings, FIPMode: e.FIPMode}
}

// Equal reports whether two endpoints (nil or not) are the same.
func (e *Endpoint) Equal(o *Endpoint) bool {
	if e == nil || o == nil {
		return e == o
	}
	return e.TunnelIP == o.TunnelIP && e.TunnelMAC == o.TunnelMAC && slices.Equal(e.Encaps, o.Encaps) &&
		maps.Equal(e.BridgeMappings, o.BridgeMappings) && e.FIPMode == o.FIPMode
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
