// Package portup is the shape of the port bring-up workload that
// bench/bringup runs on Wyvern and bench/vsovn runs on OVN beside it: the
// measured network's addresses, what one run measures (its result types,
// which bench/bringup also writes as JSON for bench/vsovn), the streaming
// ping that times a first reply, and the readings of a controller process.
package portup

import (
	"fmt"
	"net/netip"
	"time"
)

// The measured network and its VMs, the same on both control planes.
const (
	Project      = "bench"
	MeasuredCIDR = "10.10.0.0/22"
	VMMTU        = 1400
	// ControlPlugs is how many plugs the control step times in each mode.
	ControlPlugs = 20
	// IdleWait is how long the controllers are left alone before the idle
	// RSS reading.
	IdleWait = 3 * time.Second
)

// MeasuredAddr is the address of measured port k.
func MeasuredAddr(k int) string {
	a := netip.MustParseAddr("10.10.0.10").As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(k)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// MeasuredMAC is the MAC of measured port k.
func MeasuredMAC(k int) string { return fmt.Sprintf("fa:16:3e:ff:%02x:%02x", k>>8, k&0xff) }

// ProbeAddr is the address of the probe VM on chassis i (from 0).
func ProbeAddr(i int) string { return fmt.Sprintf("10.10.3.%d", 201+i) }

// RunResult is everything one run measured.
type RunResult struct {
	Small, Large     []PortTiming // bring-up samples of both phases
	AtStart, AtSmall Snapshot     // after set-up; after the first phase
	AtBulk, AtLarge  Snapshot     // after the bulk bind; after the second phase
	Bulk             BulkResult
	Control          ControlResult
	Resync           ResyncResult
	Restart          RestartResult
	Took             time.Duration
	Load             string // load average at the start
}

// PortTiming is one measured bring-up; every offset is from T0, the API
// call creating the port.
type PortTiming struct {
	Port, Chassis, ProbeChassis string
	T0                          time.Time
	Created                     time.Duration // the API call returned
	Plugged                     time.Duration // ovs-vsctl add-port returned
	FirstReply                  time.Duration // first echo reply (ping -D's clock)
	// Filled in from the etcd watch and the agents' debug logs (0:
	// not seen).
	Bound       time.Duration // the port's binding reached etcd (host_id set)
	LocalFlows  time.Duration // the VM's agent installed flows after the plug
	RemoteFlows time.Duration // the probe's agent installed flows after the bind
	LocalTook   time.Duration // that local update's Diff+bundle time
	RemoteTook  time.Duration
}

// Plug is the plug's own time: ovs-vsctl add-port's duration.
func (t PortTiming) Plug() time.Duration { return t.Plugged - t.Created }

// ControlShare is the control plane's share of the bring-up: the first
// reply less the plug's own time.
func (t PortTiming) ControlShare() time.Duration { return t.FirstReply - t.Plug() }

// Snapshot is the per-chassis state at a topology size.
type Snapshot struct {
	Ports int
	Flows map[string]int   // br-int flows per chassis
	RSS   map[string]int64 // controller VmRSS, kB
	HWM   map[string]int64 // controller VmHWM, kB
	Anon  map[string]int64 // controller RssAnon, kB (the rest is mostly the binary's mapped text)
	// IdleRSS is VmRSS again after IdleWait without changes: what a
	// hypervisor's controller holds between bursts of work.
	IdleRSS map[string]int64
	CPU     map[string]time.Duration // controller CPU time (user + system) so far
	// ByTable counts the first chassis' flows per table number.
	ByTable map[int]int
}

// CPUPerPort is the controllers' CPU time (all chassis summed) between
// two snapshots, per measured port.
func CPUPerPort(from, to Snapshot, ports int) time.Duration {
	var d time.Duration
	for ch, c := range to.CPU {
		d += c - from.CPU[ch]
	}
	if ports == 0 {
		return 0
	}
	return d / time.Duration(ports)
}

// BulkResult is the bulk bind of the extra networks' ports.
type BulkResult struct {
	Ports      int
	APICreate  time.Duration // creating them through the API (8 clients)
	Plug       time.Duration // the slowest chassis' ovs-vsctl
	PerChassis map[string]time.Duration
	Synced     time.Duration // last chassis' last flow update, from the plug
	Detected   time.Duration // when polling saw every chassis complete
}

// ControlResult is the plug alone, with the whole topology present: the
// same ovs-vsctl add-port as a bring-up, of a port the control plane does
// not know (so no controller installs anything for it), once with the
// controllers running and once with every controller stopped (SIGSTOP)
// around the plug: what vswitchd itself costs at this size, and what the
// controllers' presence adds.
type ControlResult struct {
	Running, Paused []time.Duration
}

// ResyncResult is a controller's full resync after kill -9.
type ResyncResult struct {
	Chassis   string
	Flows     int
	Wall      time.Duration // process start → "flows installed" logged
	Started   time.Duration // process start → "agent started" logged
	AgentTook time.Duration // the agent's own took= (Diff + bundle + sweep)
}

// RestartResult is the restart test: a controller killed and started
// again under a 50 pps ping.
type RestartResult struct {
	Chassis string
	PingRun
	Resync ResyncResult
	// Back is from the controller's start to the first reply after the
	// ping's end, when the path was still down then (0: not measured).
	Back time.Duration
}
