package pipeline

import (
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// QoS: a local port's bandwidth limits and DSCP mark (Neutron's qos
// extension). The userspace datapath has no tc policing on its ports, so
// both directions are OpenFlow meters (one drop band in kbps with a
// burst), which dpif-netdev implements:
//
//   - egress (what the VM sends): the port's Classify flow resubmits to
//     QoS, where its packets pass the port's egress meter and its IP
//     packets get the DSCP mark;
//   - ingress (what the VM receives): the flows that choose the port as
//     unicast destination (L2Lookup, and L3Route's host routes) pass the
//     ingress meter first. Floods (broadcast, multicast, unknown unicast)
//     are not metered: they reach every port of the network at once.
//
// The meters themselves are not flows: Meters lists those the flows
// use, and the agent installs them before the flows (reconcile).

// PortQoS is what a port's QoS policy asks of the data plane. Rates are in
// kbit/s (0: no limit), bursts in kbit (the meter's bucket).
type PortQoS struct {
	EgressKbps, EgressBurstKbits   uint32
	IngressKbps, IngressBurstKbits uint32
	// MarkDSCP sets DSCP (0..63, a valid Neutron mark) on the IPv4 and
	// IPv6 packets the port sends.
	MarkDSCP bool
	DSCP     uint8
}

// maxMeterPort bounds the OpenFlow ports that get meters: OVS's userspace
// datapath holds meter ids below 2^18.
const maxMeterPort = 1<<17 - 1

// EgressMeter and IngressMeter are the meter ids of a local port's
// egress and ingress limits, from its OpenFlow port number.
func EgressMeter(ofport uint32) uint32  { return ofport * 2 }
func IngressMeter(ofport uint32) uint32 { return ofport*2 + 1 }

func (q *PortQoS) egress() bool  { return q != nil && q.EgressKbps > 0 }
func (q *PortQoS) ingress() bool { return q != nil && q.IngressKbps > 0 }

// burst is a band's burst: as given, else the rate (one second's worth).
func burst(rate, b uint32) uint32 {
	if b == 0 {
		return rate
	}
	return b
}

// meterable says a local port may have meters.
func meterable(p *Port) bool { return p.OFPort != 0 && p.OFPort <= maxMeterPort }

// Meters are the meters the flows of v use (and perhaps a few more: a
// meter nothing uses is harmless, a flow using a missing meter is
// refused), by id. Pure, like Compile.
func Meters(v *View) []ofp.MeterConfig {
	var out []ofp.MeterConfig
	for i := range v.Ports {
		p := &v.Ports[i]
		if p.Chassis != v.Local.Name || p.Chassis == "" || !meterable(p) {
			continue
		}
		if p.QoS.egress() {
			out = append(out, ofp.MeterConfig{ID: EgressMeter(p.OFPort), RateKbps: p.QoS.EgressKbps, BurstKbits: burst(p.QoS.EgressKbps, p.QoS.EgressBurstKbits)})
		}
		if p.QoS.ingress() {
			out = append(out, ofp.MeterConfig{ID: IngressMeter(p.OFPort), RateKbps: p.QoS.IngressKbps, BurstKbits: burst(p.QoS.IngressKbps, p.QoS.IngressBurstKbits)})
		}
	}
	slices.SortFunc(out, func(a, b ofp.MeterConfig) int { return int(a.ID) - int(b.ID) })
	return slices.CompactFunc(out, func(a, b ofp.MeterConfig) bool { return a.ID == b.ID })
}

// qosEgress says a local port's packets go through QoS.
func qosEgress(p *portState) bool {
	return p.local && meterable(p.Port) && (p.QoS.egress() || p.QoS != nil && p.QoS.MarkDSCP)
}

// qosClassify ends a local port's Classify actions with the resubmit to
// QoS when it has an egress limit or a DSCP mark.
func qosClassify(acts []ofp.Action, p *portState) []ofp.Action {
	if qosEgress(p) {
		return append(acts, ofp.Resubmit{Table: TableQoS.Number()})
	}
	return acts
}

// qosDeliver puts the ingress meter of local port p, when it has one,
// before the actions delivering a unicast packet to it.
func qosDeliver(p *portState, acts ...ofp.Action) []ofp.Action {
	if p.local && meterable(p.Port) && p.QoS.ingress() {
		return append([]ofp.Action{ofp.Meter{ID: IngressMeter(p.OFPort)}}, acts...)
	}
	return acts
}

func (h *hasher) qos(q *PortQoS) {
	if q == nil {
		h.u64(0)
		return
	}
	h.u64(1)
	h.u64(uint64(q.EgressKbps)<<32 | uint64(q.EgressBurstKbits))
	h.u64(uint64(q.IngressKbps)<<32 | uint64(q.IngressBurstKbits))
	h.bool(q.MarkDSCP)
	h.u64(uint64(q.DSCP))
}

// qosUnit compiles the "qos" section: the QoS table's flows of the local
// ports with an egress limit or a DSCP mark.
type qosUnit struct{}

const (
	prioQoSMark  = 110
	prioQoSMeter = 100
)

func (qosUnit) sections(x *index, s *sectionList) {
	var ports []*portState
	h := x.hasher("qos")
	for _, n := range x.nets {
		for _, p := range n.local {
			if qosEgress(p) {
				ports = append(ports, p)
				h.u64(uint64(p.Key))
				h.u64(uint64(p.OFPort))
				h.qos(p.QoS)
			}
		}
	}
	e := s.next("qos", h.Sum64(), 3*len(ports)+1)
	if e == nil || len(ports) == 0 {
		return
	}
	missFlows(e, FeatureQoS)
	for _, p := range ports {
		var meter []ofp.Action
		if p.QoS.egress() {
			meter = []ofp.Action{ofp.Meter{ID: EgressMeter(p.OFPort)}}
			e.add(TableQoS, prioQoSMeter, FeatureQoS, []ofp.Field{InPortKeyField.Match(p.Key)}, meter...)
		}
		if p.QoS.MarkDSCP {
			mark := append(slices.Clone(meter), ofp.SetField{Field: ofp.Field{Kind: ofp.FIPDSCP, Value: uint64(p.QoS.DSCP & 0x3f)}})
			for _, et := range []uint16{ofp.EthTypeIPv4, ofp.EthTypeIPv6} {
				e.add(TableQoS, prioQoSMark, FeatureQoS, []ofp.Field{InPortKeyField.Match(p.Key), ofp.EthType(et)}, mark...)
			}
		}
	}
}
