package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/logical"
	"github.com/wyvern-sdn/wyvern/internal/model"
)

// Rule is a security group rule the trace names.
type Rule struct {
	ID        string `json:"id"`
	GroupID   string `json:"security_group_id"`
	GroupName string `json:"security_group_name,omitempty"`
	Text      string `json:"text"`
}

// ruleProto is a rule's protocol number (model.ProtocolNumber, the table
// the API and the agent use); ok false when the agent cannot compile it
// (it is then ignored: fail closed).
func ruleProto(r *model.SecurityGroupRule) (uint8, bool) {
	return model.ProtocolNumber(r.Protocol)
}

// aclResult is the verdict of one direction's security groups.
type aclResult struct {
	match   *model.SecurityGroupRule // first rule admitting the packet
	more    int                      // other rules admitting it
	skipped []string                 // rules the agent cannot compile
}

// evalACL runs a port's rules of one direction over the packet: peer is
// the remote address (destination of egress traffic, source of ingress).
// Rules are visited in the agent's order (groups by id, rules by id); any
// matching rule allows, so the first is the one named.
func (x *index) evalACL(p *model.Port, dir string, pkt Packet, peer netip.Addr) aclResult {
	var res aclResult
	groups := slices.Clone(p.SecurityGroups)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	for _, g := range groups {
		for _, r := range x.rules[g] {
			if r.Direction != dir {
				continue
			}
			ok, why := x.ruleMatches(r, pkt, peer)
			if why != "" {
				res.skipped = append(res.skipped, r.ID+": "+why)
			}
			if !ok {
				continue
			}
			if res.match == nil {
				res.match = r
			} else {
				res.more++
			}
		}
	}
	return res
}

// ruleMatches mirrors the agent's compilation of one rule (the same
// logical.ConvertRule, then the pipeline's ruleL4 and remote matches) for
// a packet (IPv4 or IPv6: the rule's ethertype must be its family). why is set when the rule cannot be compiled at all.
func (x *index) ruleMatches(r *model.SecurityGroupRule, pkt Packet, peer netip.Addr) (ok bool, why string) {
	if r.EtherType != family(pkt.Dst) {
		return false, ""
	}
	vr, valid := logical.ConvertRule(r)
	if !valid {
		if _, known := ruleProto(r); !known {
			return false, fmt.Sprintf("unknown protocol %q, ignored", r.Protocol)
		}
		return false, fmt.Sprintf("bad remote_ip_prefix %q, ignored", r.RemoteIPPrefix)
	}
	proto := vr.Protocol
	if proto == protoICMP && pkt.Dst.Is6() {
		proto = protoICMPv6 // as the pipeline's ruleL4
	}
	if proto != 0 && proto != pkt.ProtoNum {
		return false, ""
	}
	switch proto {
	case 0:
	case protoTCP, protoUDP:
		if lo, hi := vr.PortMin, vr.PortMax; lo != 0 || hi != 0 {
			if pkt.DstPort < lo || pkt.DstPort > max(lo, hi) {
				return false, ""
			}
		}
	case protoICMP, protoICMPv6:
		if vr.ICMPType != nil {
			if *vr.ICMPType != pkt.ICMPType {
				return false, ""
			}
			if vr.ICMPCode != nil && *vr.ICMPCode != pkt.ICMPCode {
				return false, ""
			}
		}
	default:
		if vr.PortMin != 0 || vr.PortMax != 0 {
			return false, "ports on protocol " + r.Protocol + " cannot be matched, ignored"
		}
	}
	if vr.RemoteGroupID != "" {
		return slices.ContainsFunc(x.members(vr.RemoteGroupID), func(m netip.Prefix) bool {
			return m.Contains(peer)
		}), ""
	}
	if vr.RemotePrefix.IsValid() && !vr.RemotePrefix.Contains(peer) {
		return false, ""
	}
	return true, ""
}

// ruleText renders a rule the way an operator reads it, e.g.
// "ingress IPv4 tcp 22 from 0.0.0.0/0".
func (x *index) ruleText(r *model.SecurityGroupRule) string {
	var b strings.Builder
	b.WriteString(r.Direction + " " + r.EtherType)
	proto := strings.ToLower(r.Protocol)
	if proto == "" {
		proto = "any"
	}
	b.WriteString(" " + proto)
	n, _ := ruleProto(r)
	switch n {
	case protoICMP, 58:
		if r.PortRangeMin != nil {
			fmt.Fprintf(&b, " type %d", *r.PortRangeMin)
			if r.PortRangeMax != nil {
				fmt.Fprintf(&b, " code %d", *r.PortRangeMax)
			}
		}
	default:
		switch {
		case r.PortRangeMin != nil && r.PortRangeMax != nil && *r.PortRangeMin != *r.PortRangeMax:
			fmt.Fprintf(&b, " %d-%d", *r.PortRangeMin, *r.PortRangeMax)
		case r.PortRangeMin != nil:
			fmt.Fprintf(&b, " %d", *r.PortRangeMin)
		case r.PortRangeMax != nil:
			fmt.Fprintf(&b, " 0-%d", *r.PortRangeMax)
		}
	}
	dir := " to "
	if r.Direction == "ingress" {
		dir = " from "
	}
	switch {
	case r.RemoteGroupID != "":
		b.WriteString(dir + "group " + x.groupLabel(r.RemoteGroupID))
	case r.RemoteIPPrefix != "":
		b.WriteString(dir + r.RemoteIPPrefix)
	default:
		b.WriteString(dir + "any")
	}
	return b.String()
}

func (x *index) ruleRef(r *model.SecurityGroupRule) *Rule {
	out := &Rule{ID: r.ID, GroupID: r.SecurityGroupID, Text: x.ruleText(r)}
	if g := x.groups[r.SecurityGroupID]; g != nil {
		out.GroupName = g.Name
	}
	return out
}

// family is the security group ethertype of an address.
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
