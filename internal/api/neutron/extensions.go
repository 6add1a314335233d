package neutron

import "net/http"

// extension is one entry of GET /v2.0/extensions.
type extension struct {
	Alias       string `json:"alias"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Updated     string `json:"updated"`
	Links       []any  `json:"links"`
}

// extensions are the API extensions Wyvern implements. Clients (and
// gophercloud's acceptance tests) skip what is not listed here, so list only
// what works.
var extensions = dated([]extension{
	{Alias: "router", Name: "Neutron L3 Router", Description: "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."},
	{Alias: "ext-gw-mode", Name: "Neutron L3 Configurable external gateway mode", Description: "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"},
	{Alias: "dvr", Name: "Distributed Virtual Router", Description: "Enables configuration of Distributed Virtual Routers."},
	{Alias: "extraroute", Name: "Neutron Extra Route", Description: "Extra routes configuration for L3 router"},
	{Alias: "extraroute-atomic", Name: "Atomically add/remove extra routes", Description: "Edit extra routes of a router on server side by atomically adding/removing extra routes"},
	{Alias: "external-net", Name: "Neutron external network", Description: "Adds external network attribute to network resource."},
	{Alias: "security-group", Name: "security-group", Description: "The security groups extension."},
	{Alias: "port-security", Name: "Port Security", Description: "Provides port security"},
	{Alias: "allowed-address-pairs", Name: "Allowed Address Pairs", Description: "Provides allowed address pairs"},
	{Alias: "extra_dhcp_opt", Name: "Neutron Extra DHCP options", Description: "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)"},
	{Alias: "binding", Name: "Port Binding", Description: "Expose port bindings of a virtual port to external application"},
	{Alias: "provider", Name: "Provider Network", Description: "Expose mapping of virtual networks to physical networks"},
	{Alias: "net-mtu", Name: "Network MTU", Description: "Provides MTU attribute for a network resource."},
	{Alias: "agent", Name: "agent", Description: "The agent management extension."},
	{Alias: "quotas", Name: "Quota management support", Description: "Expose functions for quotas management per tenant"},
	{Alias: "quota_details", Name: "Quota details management support", Description: "Expose functions for quotas usage statistics per project"},
	{Alias: "standard-attr-tag", Name: "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", Description: "Enables to set tag on resources with standard attribute."},
	{Alias: "standard-attr-description", Name: "standard-attr-description", Description: "Extension to add descriptions to standard attributes"},
	{Alias: "standard-attr-revisions", Name: "Resource revision numbers", Description: "This extension will display the revision number of neutron resources."},
	{Alias: "standard-attr-timestamp", Name: "Resource timestamps", Description: "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."},
	{Alias: "revision-if-match", Name: "If-Match constraints based on revision_number", Description: "Extension indicating that If-Match based on revision_number is supported."},
	{Alias: "pagination", Name: "Pagination support", Description: "Extension that indicates that pagination is enabled."},
	{Alias: "sorting", Name: "Sorting support", Description: "Extension that indicates that sorting is enabled."},
	{Alias: "project-id", Name: "project_id field enabled", Description: "Extension that indicates that project_id field is enabled."},
	{Alias: "wyvern-edge-pool", Name: "Floating IP edge pools", Description: "Wyvern's floating-IP edge: a floating IP's edge_pool (the pool of edge gateways announcing it; an admin may move it to the pool of a running gateway) and its edge_pool_moves (manual and automatic)."},
	{Alias: "fip-port-details", Name: "Floating IP Port Details Extension", Description: "Add port_details attribute to Floating IP resource"},
	{Alias: "subnet-service-types", Name: "Subnet service types", Description: "Provides ability to set the subnet service_types field"},
	{Alias: "address-scope", Name: "Address scope", Description: "Address scopes extension."},
	{Alias: "port-trusted-vif", Name: "Port trusted vif", Description: "Expose port 'trusted' attribute"},
	{Alias: "address-group", Name: "Address group", Description: "Support address group"},
	{Alias: "subnet_allocation", Name: "Subnet Allocation", Description: "Enables allocation of subnets from a subnet pool"},
	{Alias: "subnetpool-prefix-ops", Name: "Subnet Pool Prefix Operations", Description: "Provides support for adjusting the prefix list of subnet pools"},
	{Alias: "default-subnetpools", Name: "Default Subnetpools", Description: "Provides ability to mark and use a subnetpool as the default."},
	{Alias: "metering", Name: "Neutron Metering", Description: "Neutron Metering extension."},
	{Alias: "metering_source_and_destination_fields", Name: "Neutron Metering with source and destination filtering", Description: "Neutron Metering extension that enables the use of source and destination IP prefixes to create metering label rules."},
	{Alias: "wyvern-metering-counters", Name: "Metering counters", Description: "Wyvern's metering counters: GET /v2.0/metering/counters gives an admin every metering label rule's packets and bytes, summed over the chassis and per chassis."},
	{Alias: "stateful-security-group", Name: "Stateful security group", Description: "Indicates if the security group is stateful or not"},
})

// dated fills what every extension shares: the date and no links.
func dated(exts []extension) []extension {
	for i := range exts {
		exts[i].Updated = "2026-11-21T00:00:00-00:00"
		exts[i].Links = []any{}
	}
	return exts
}

func (s *Server) handleExtensions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"extensions": extensions})
}

func (s *Server) handleExtension(w http.ResponseWriter, r *http.Request) {
	alias := r.PathValue("alias")
	for _, e := range extensions {
		if e.Alias == alias {
			writeJSON(w, http.StatusOK, map[string]any{"extension": e})
			return
		}
	}
	s.writeError(w, r, newError(http.StatusNotFound, "HTTPNotFound", "Extension with alias %s does not exist", alias))
}
