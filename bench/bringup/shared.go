package main

import (
	"time"

	"github.com/wyvern-sdn/wyvern/bench/internal/portup"
)

// The workload's shape and results are shared with bench/vsovn, which
// runs the same workload on OVN (bench/internal/portup).
type (
	runResult     = portup.RunResult
	portTiming    = portup.PortTiming
	snapshot      = portup.Snapshot
	bulkResult    = portup.BulkResult
	controlResult = portup.ControlResult
	resyncResult  = portup.ResyncResult
	restartResult = portup.RestartResult
)

const (
	project      = portup.Project
	measuredCIDR = portup.MeasuredCIDR
	vmMTU        = portup.VMMTU
	controlPlugs = portup.ControlPlugs
	idleWait     = portup.IdleWait
)

var (
	measuredAddr = portup.MeasuredAddr
	startPing    = portup.StartPing
	parseReply   = portup.ParseReply
	parsePingRun = portup.ParsePingRun
	procMem      = portup.ProcMem
	flowTable    = portup.FlowTable
	cpuPerPort   = portup.CPUPerPort
	percentile   = portup.Percentile
	ms           = portup.Ms
)

func durSpan(vals []time.Duration, render func(time.Duration) string) string {
	return portup.DurSpan(vals, render)
}

func intSpan(vals []int, render func(int) string) string { return portup.IntSpan(vals, render) }
