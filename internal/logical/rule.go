package logical

import (
	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// ConvertRule maps a Neutron rule onto the pipeline's. Its protocol is
// any name or number model.ProtocolNumber knows; ok is false for another
// protocol or a bad remote prefix (the rule is then left out: fail
// closed).
func ConvertRule(r *model.SecurityGroupRule) (pipeline.SecurityGroupRule, bool) {
	vr := pipeline.SecurityGroupRule{Direction: pipeline.Direction(r.Direction), EtherType: r.EtherType,
		RemoteGroupID: r.RemoteGroupID}
	proto, ok := model.ProtocolNumber(r.Protocol)
	if !ok {
		return vr, false
	}
	vr.Protocol = proto
	if r.RemoteIPPrefix != "" {
		p, ok := parsePrefixOrAddr(r.RemoteIPPrefix)
		if !ok {
			return vr, false
		}
		vr.RemotePrefix = p.Masked()
	}
	switch proto {
	case model.ProtoICMP, model.ProtoICMPv6:
		if r.PortRangeMin != nil {
			t := uint8(*r.PortRangeMin)
			vr.ICMPType = &t
		}
		if r.PortRangeMax != nil {
			c := uint8(*r.PortRangeMax)
			vr.ICMPCode = &c
		}
	default:
		if r.PortRangeMin != nil {
			vr.PortMin = uint16(*r.PortRangeMin)
			vr.PortMax = vr.PortMin
		}
		if r.PortRangeMax != nil {
			vr.PortMax = uint16(*r.PortRangeMax)
		}
	}
	return vr, true
}
