// Package testbed builds a multi-chassis Open vSwitch test bed on one
// machine, with real packets: end-to-end tests, the demo and benchmarks use
// it.
//
// A Bed is a set of Linux network namespaces sharing a unique short prefix
// ("wyv" and four hex digits):
//
//   - the underlay: one namespace holding a Linux bridge (br0) that joins
//     every chassis and host on 192.0.2.0/24;
//   - chassis: one namespace each, with a private run directory holding its
//     own ovsdb-server and ovs-vswitchd (userspace datapath,
//     datapath_type=netdev) and a br-phy bridge that owns the chassis'
//     underlay veth and its tunnel address 192.0.2.N;
//   - VMs: one namespace each, with eth0 whose peer is plugged into the
//     chassis' br-int the way Nova plugs a port (external_ids:iface-id,
//     attached-mac, iface-status);
//   - hosts: plain namespaces on the underlay (the "outside world").
//
// The bed never creates br-int nor tunnel ports: that is the agent's job.
// An agent runs in the root namespace and reaches a chassis' OVS through its
// unix sockets (Chassis.DBSock, Chassis.MgmtSock); Chassis.StartProcess runs
// it with its log in the chassis directory and stops it on Close.
//
//	bed := testbed.ForTest(t)
//	ch1, _ := bed.AddChassis("ch1")
//	// ... start an agent on ch1, it creates br-int ...
//	vm, _ := ch1.AddVM("vm1", "fa:16:3e:00:00:01", portID, 1400)
//	lease, _ := vm.DHCP(ctx)
//	n, err := vm.Ping("10.0.0.6", 3, 5*time.Second)
//
// Bed.Close removes everything the bed made (processes by pid, namespaces,
// veths, directories); it is idempotent and safe after a partial failure.
// Bed.CloseOnSignal makes a Ctrl-C'd demo clean up too, and Sweep removes
// what a killed earlier run left behind (beds whose owning process is
// gone), e.g. from an end-to-end package's TestMain:
//
//	func TestMain(m *testing.M) {
//		if _, err := testbed.Sweep(nil); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//		}
//		os.Exit(m.Run())
//	}
//
// The recipe this package follows, with the pitfalls it works around, is in
// DESIGN.md section 5 and recipe.md. The package knows nothing of Wyvern's
// logical model.
package testbed
