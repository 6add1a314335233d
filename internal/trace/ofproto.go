package trace

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// OFFlow is the flow, in ovs-ofctl syntax, of the traced packet entering
// br-int at OpenFlow port inPort, for `ovs-appctl ofproto/trace`.
func (r *Result) OFFlow(inPort int) (string, error) {
	p := r.Packet
	if r.EthDst == "" {
		return "", errors.New("trace: the VM would not send this packet (no next-hop MAC), nothing to trace on the bridge")
	}
	eth := fmt.Sprintf("in_port=%d,dl_src=%s,dl_dst=%s", inPort, r.EthSrc, r.EthDst)
	ip := fmt.Sprintf("nw_src=%s,nw_dst=%s,nw_ttl=%d", p.Src, p.Dst, p.TTL)
	if p.Dst.Is6() {
		ip = fmt.Sprintf("ipv6_src=%s,ipv6_dst=%s,nw_ttl=%d", p.Src, p.Dst, p.TTL)
		switch p.Proto {
		case "tcp", "udp":
			return fmt.Sprintf("%s6,%s,%s,tp_src=%d,tp_dst=%d", p.Proto, eth, ip, p.SrcPort, p.DstPort), nil
		case "icmp":
			return fmt.Sprintf("icmp6,%s,%s,icmpv6_type=%d,icmpv6_code=%d", eth, ip, p.ICMPType, p.ICMPCode), nil
		}
		return fmt.Sprintf("ipv6,%s,%s,nw_proto=%d", eth, ip, p.ProtoNum), nil
	}
	switch p.Proto {
	case "arp":
		return fmt.Sprintf("arp,%s,arp_op=1,arp_sha=%s,arp_spa=%s,arp_tpa=%s", eth, r.EthSrc, p.Src, p.Dst), nil
	case "tcp", "udp":
		return fmt.Sprintf("%s,%s,%s,tp_src=%d,tp_dst=%d", p.Proto, eth, ip, p.SrcPort, p.DstPort), nil
	case "icmp":
		return fmt.Sprintf("icmp,%s,%s,icmp_type=%d,icmp_code=%d", eth, ip, p.ICMPType, p.ICMPCode), nil
	}
	return fmt.Sprintf("ip,%s,%s,nw_proto=%d", eth, ip, p.ProtoNum), nil
}

// OFStep is one table lookup of an ofproto/trace, named after Wyvern's
// pipeline.
type OFStep struct {
	// Bridge the step runs in: the traced bridge, or one the packet
	// reached through a patch port or a tunnel (its steps are not named).
	Bridge string `json:"bridge"`
	// Depth is the nesting (resubmit) level, 0 for the main pipeline.
	Depth    int    `json:"depth"`
	Table    int    `json:"table"`
	Name     string `json:"table_name"` // Wyvern's table name, "" if not ours
	Stage    int    `json:"stage"`      // position in the pipeline (-1 if not ours)
	Priority int    `json:"priority"`
	Cookie   string `json:"cookie,omitempty"`
	// Feature is the Wyvern feature of the flow's cookie ("" if the flow
	// is not Wyvern's); Generation the agent's restart round.
	Feature    string   `json:"feature,omitempty"`
	Generation uint32   `json:"generation,omitempty"`
	Match      string   `json:"match"`
	Actions    []string `json:"actions"`
}

// OFPass is one pass through the bridge: the first, and one per
// conntrack recirculation.
type OFPass struct {
	Title           string   `json:"title"`
	Steps           []OFStep `json:"steps"`
	DatapathActions string   `json:"datapath_actions"`
}

// OFTrace is an annotated ofproto/trace.
type OFTrace struct {
	Chassis string   `json:"chassis,omitempty"`
	Bridge  string   `json:"bridge"`
	Flow    string   `json:"flow"`
	Passes  []OFPass `json:"passes"`
	// Final is the datapath actions of the last pass: what happens to
	// the packet in the end; Dropped when they are "drop".
	Final   string `json:"final_actions"`
	Dropped bool   `json:"dropped"`
	// Agreement compares the bridge with the logical trace (set by the
	// caller with Compare).
	Agreement *Agreement `json:"agreement,omitempty"`
	Raw       string     `json:"raw"`
}

var (
	stepLine   = regexp.MustCompile(`^(\s*)(\d+)\. (.*)$`)
	bridgeLine = regexp.MustCompile(`^\s*bridge\("([^"]+)"\)$`)
	stepTail   = regexp.MustCompile(`^(?:(.*?),? )?priority (\d+)(?:, cookie (0x[0-9a-fA-F]+))?$`)
)

// tableNames maps table numbers to Wyvern's declarations.
func tableNames() map[int]pipeline.Table {
	m := map[int]pipeline.Table{}
	for _, t := range pipeline.Tables() {
		m[int(t.ID.Number())] = t
	}
	return m
}

// Annotate parses the output of `ovs-appctl ofproto/trace` and names each
// table step after Wyvern's table and the feature in its flow's cookie.
func Annotate(raw string) OFTrace {
	tables := tableNames()
	tr := OFTrace{Raw: raw, Passes: []OFPass{{Title: "initial"}}}
	cur := &tr.Passes[0]
	var step *OFStep
	stepIndent := 0
	bridge := ""
	lines := strings.Split(raw, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \r")
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "Flow: ") && tr.Flow == "":
			tr.Flow = strings.TrimPrefix(l, "Flow: ")
			continue
		case trimmed != "" && strings.Trim(trimmed, "=") == "":
			// ===== title ===== opens a new pass.
			if i+1 < len(lines) {
				tr.Passes = append(tr.Passes, OFPass{Title: strings.TrimSpace(lines[i+1])})
				cur, step = &tr.Passes[len(tr.Passes)-1], nil
				i += 2
			}
			continue
		case strings.HasPrefix(l, "Datapath actions: "):
			cur.DatapathActions = strings.TrimPrefix(l, "Datapath actions: ")
			step = nil
			continue
		case bridgeLine.MatchString(l):
			bridge = bridgeLine.FindStringSubmatch(l)[1]
			if tr.Bridge == "" {
				tr.Bridge = bridge
			}
			step = nil
			continue
		}
		if m := stepLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			// The dot of a top-level step is in column 2 (" 0.",
			// "13."); each nesting level indents by 4.
			s := OFStep{Bridge: bridge, Depth: max(0, (len(m[1])+len(m[2])-2)/4), Table: n, Stage: -1, Actions: []string{}}
			if t, ok := tables[n]; ok && bridge == tr.Bridge {
				s.Name, s.Stage = t.Name, t.ID.Stage()
			}
			if tm := stepTail.FindStringSubmatch(m[3]); tm != nil {
				s.Match, s.Cookie = tm[1], tm[3]
				s.Priority, _ = strconv.Atoi(tm[2])
				if c, err := strconv.ParseUint(strings.TrimPrefix(tm[3], "0x"), 16, 64); err == nil && pipeline.IsOwnCookie(c) && s.Name != "" {
					s.Feature, s.Generation = pipeline.CookieFeature(c).String(), pipeline.CookieGeneration(c)
				}
			} else {
				s.Match = m[3] // "No match." and the like
			}
			cur.Steps = append(cur.Steps, s)
			step, stepIndent = &cur.Steps[len(cur.Steps)-1], len(m[1])
			continue
		}
		if step != nil && trimmed != "" && len(l)-len(strings.TrimLeft(l, " ")) > stepIndent {
			step.Actions = append(step.Actions, trimmed)
			continue
		}
		step = nil
	}
	if len(tr.Passes) > 0 {
		tr.Final = tr.Passes[len(tr.Passes)-1].DatapathActions
	}
	tr.Dropped = tr.Final == "drop"
	return tr
}

// TunnelVNI reports the VNI of the first tunnel push in the final
// datapath actions (geneve or vxlan), if any.
func (t *OFTrace) TunnelVNI() (int, bool) {
	m := regexp.MustCompile(`(?:geneve|vxlan)\((?:[^)]*?)vni=(0x[0-9a-fA-F]+|\d+)`).FindStringSubmatch(t.Final)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(m[1], 0, 64)
	return int(v), err == nil
}

// Agreement is how an ofproto/trace of the source chassis compares with
// the logical trace.
type Agreement struct {
	// Checked is false when the outcome cannot be compared from the
	// source chassis' bridge alone (packets leaving through an external
	// network).
	Checked bool   `json:"checked"`
	Agree   bool   `json:"agree"`
	Detail  string `json:"detail"`
}

// Compare checks the bridge's final datapath actions against the
// logical verdict, for the part of the path on the source chassis: a drop
// there must be a drop, a tunnelled packet a tunnel push with the egress
// VNI, a local delivery or an answer an output without tunnel. A packet
// the destination chassis drops (its ingress security groups) still
// leaves the source chassis in the tunnel.
func Compare(r *Result, t *OFTrace) Agreement {
	here := r.Source.Chassis
	vni, pushed := t.TunnelVNI()
	want := ""
	switch {
	case r.Verdict == External:
		return Agreement{Detail: "leaves through an external network: not compared"}
	case r.Output != nil && r.Output.Tunnelled && len(r.Steps) > 0 && (r.Verdict == Delivered ||
		r.Steps[len(r.Steps)-1].Chassis != here):
		want = fmt.Sprintf("tunnel push with VNI %d", r.Output.VNI)
		if pushed && vni == r.Output.VNI {
			return Agreement{Checked: true, Agree: true, Detail: "both tunnel it with VNI " + strconv.Itoa(vni)}
		}
	case r.Verdict == Drop:
		want = "drop"
		if t.Dropped {
			return Agreement{Checked: true, Agree: true, Detail: "both drop it"}
		}
	case r.Verdict == Flooded:
		want = "output to local ports, no tunnel"
		if !pushed {
			return Agreement{Checked: true, Agree: true, Detail: "both keep it on the chassis"}
		}
	default: // delivered locally, answered, to the controller
		want = "output on this chassis"
		if !t.Dropped && !pushed {
			return Agreement{Checked: true, Agree: true, Detail: "both output it on this chassis"}
		}
	}
	return Agreement{Checked: true, Detail: fmt.Sprintf("DISAGREE: logical trace says %s (%s), so the bridge should show %s; its datapath actions are %q",
		r.Verdict, r.Reason, want, t.Final)}
}
