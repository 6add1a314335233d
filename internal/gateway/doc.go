// Package gateway is `wyvern gateway`, the floating-IP edge (DESIGN.md
// section 7, seed 000): a daemon on an edge host that serves floating IPs
// with stateless 1:1 NAT flows on its own Open vSwitch bridge and announces
// each one it serves as a /32 over BGP (package bgp), so that upstream
// routers spread the addresses over every gateway of a pool with ECMP.
//
// The parts, each alone testable:
//
//   - records (watch.go): the etcd records it reads — floating IPs, ports,
//     networks, subnets, chassis — listed then watched through a small
//     Source interface (a *store.Store);
//   - BuildView (view.go): a pure function from the records to a View, the
//     floating IPs this gateway can serve with everything their flows need;
//   - Compile (compile.go): a pure function from a View to OpenFlow flows,
//     checked against golden files;
//   - the reconciler (reconcile.go): applies the flows as atomic bundles
//     under a cookie generation, sweeping only stale flows, never wiping;
//   - Gateway (gateway.go): one goroutine owning the state, which
//     recompiles, reconciles and calls Announcer.Set after every change;
//   - pools and steering (pool.go, steer.go): each floating IP is served
//     by the gateways of one pool (edge/pools/<fip>, written by the API's
//     admin-only edge_pool or by the automatic steering, which moves an
//     address whose packet rate through a gateway, read from the inbound
//     flow's counters, crosses a threshold to a scrubbing pool and back
//     after a hold-down); every move is logged by every gateway. Each
//     gateway registers itself (edge/gateways/<name>) under a lease.
//
// The bridge (br-edge, userspace datapath in tests) has the uplink port
// towards the upstream routers and flow-based Geneve and VXLAN tunnel
// ports towards the chassis. The uplink address — the BGP next hop of
// every announcement and the BGP session's source — is an ordinary kernel
// address on the bridge's LOCAL interface: the flows pass everything that
// is not floating-IP traffic between the uplink and LOCAL, so the host's
// kernel answers ARP for it, speaks BGP over it and resolves the upstream
// router's MAC (ARP, read back from the neighbour table). The tunnel
// underlay is another bridge or interface of the host (its tunnel IP), as
// on a chassis.
//
// The chassis side: a gateway serves only the floating IPs of chassis in
// edge mode (fip_mode edge). Those chassis tunnel their floating IPs'
// outbound traffic to the pool's anycast tunnel endpoint, an address every
// gateway holds on its tunnel bridge; with TunnelPeers the gateway
// announces it over BGP to the underlay's routers (the seed's
// "TunnelNet") via its own tunnel address once it serves. A gateway NATs
// the outbound traffic of every pool's floating IPs (View.Outbound) and
// takes the inbound traffic of its own pool's only.
//
// No conntrack is used: any gateway can carry any packet of any floating IP
// in either direction, which is what lets the upstream routers spread and
// move traffic freely.
package gateway
