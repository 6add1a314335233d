package pipeline

// meteringView: floatingIP (vm1's floating IP NATed here, r1's SNAT on
// ch2) with metering labels: "all" counts r1's egress except to
// 203.0.113.7 and its ingress from 198.51.100.0/24; "web" (a shared label)
// counts egress to 198.51.100.0/24; "other" applies to a router not in the
// view and compiles nothing.
func meteringView() *View {
	v := floatingIP()
	v.Metering = []MeteringLabel{
		{ID: "all", Key: 7, Routers: []string{"r1"}, Rules: []MeteringRule{
			{ID: "all-out", Key: 71, Direction: Egress, Prefix: pfx("0.0.0.0/0")},
			{ID: "all-out-not-7", Key: 72, Direction: Egress, Prefix: pfx("203.0.113.7/32"), Excluded: true},
			{ID: "all-in", Key: 73, Direction: Ingress, Prefix: pfx("198.51.100.0/24")},
		}},
		{ID: "web", Key: 8, Routers: []string{"r1", "r9"}, Rules: []MeteringRule{
			{ID: "web-out", Key: 81, Direction: Egress, Prefix: pfx("198.51.100.0/24")},
		}},
		{ID: "other", Key: 9, Routers: []string{"r9"}, Rules: []MeteringRule{
			{ID: "other-out", Key: 91, Direction: Egress, Prefix: pfx("0.0.0.0/0")},
		}},
	}
	return v
}

// meteringGateway: routedTwoNetworks with r1's gateway active here (vm1
// local, SNATed here) and a label counting by source and destination:
// egress from 10.1.0.0/24 to 198.51.100.0/24, ingress to 10.1.0.13,
// egress from 10.1.0.14 excluded.
func meteringGateway() *View {
	v := withGateway(routedTwoNetworks(), "ch1", ofExt)
	v.Metering = []MeteringLabel{{ID: "sd", Key: 3, Routers: []string{"r1"}, Rules: []MeteringRule{
		{ID: "sd-out", Key: 31, Direction: Egress, Source: pfx("10.1.0.0/24"), Destination: pfx("198.51.100.0/24")},
		{ID: "sd-in", Key: 32, Direction: Ingress, Destination: pfx("10.1.0.13/32")},
		{ID: "sd-not-14", Key: 33, Direction: Egress, Source: pfx("10.1.0.14/32"), Excluded: true},
	}}}
	return v
}

// meteringIPv6Gateway: ipv6Gateway with SNAT off (the gateway here routes
// only IPv6 out) and a label counting IPv6 egress to 2001:db8:99::/48,
// IPv6 ingress to vm1's address, and all egress (a rule without prefix:
// IPv4 and IPv6 alike, one counting flow).
func meteringIPv6Gateway() *View {
	v := ipv6Gateway()
	v.Routers[0].Gateway.SNAT = false
	v.Metering = []MeteringLabel{{ID: "v6", Key: 4, Routers: []string{"r1"}, Rules: []MeteringRule{
		{ID: "v6-out", Key: 41, Direction: Egress, Prefix: pfx("2001:db8:99::/48")},
		{ID: "v6-in", Key: 42, Direction: Ingress, Destination: pfx("2001:db8:1::11/128")},
		{ID: "any-out", Key: 43, Direction: Egress},
		{ID: "mixed", Key: 44, Direction: Egress, Source: pfx("10.1.0.0/24"), Destination: pfx("2001:db8:99::/48")},
	}}}
	return v
}
