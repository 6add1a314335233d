package trace

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints a logical trace for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	src := r.Source
	net := src.NetworkID
	if src.NetworkName != "" {
		net = src.NetworkName + " (" + src.NetworkID + ")"
	}
	name := src.ID
	if src.Name != "" {
		name = src.Name + " (" + src.ID + ")"
	}
	chassis := src.Chassis
	if chassis == "" {
		chassis = "unbound"
	}
	fmt.Fprintf(&b, "Packet:  %s (first packet of a new connection)\n", r.Packet)
	if src.ID == "" { // RunInbound
		fmt.Fprintf(&b, "Source:  %s on external network %s\n", strings.Join(src.IPs, ", "), net)
	} else {
		fmt.Fprintf(&b, "Source:  port %s, MAC %s, network %s, chassis %s\n", name, src.MAC, net, chassis)
	}
	if r.EthDst != "" {
		fmt.Fprintf(&b, "Frame:   eth %s → %s\n", r.EthSrc, r.EthDst)
	}
	b.WriteString("\n")
	for i, s := range r.Steps {
		where := s.Chassis
		if where == "" {
			where = "-"
		}
		fmt.Fprintf(&b, "%2d. %-13s %-8s %-10s %s\n", i+1, s.Stage, where, s.Verdict, s.Detail)
		if s.Rule != nil {
			fmt.Fprintf(&b, "    %-13s %-8s %-10s rule %s: %s\n", "", "", "", s.Rule.ID, s.Rule.Text)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "    %-13s %-8s %-10s note: %s\n", "", "", "", n)
		}
	}
	fmt.Fprintf(&b, "\nVerdict: %s: %s\n", r.Verdict, r.Reason)
	if o := r.Output; o != nil && o.Tunnelled {
		fmt.Fprintf(&b, "Output:  %s tunnel VNI %d to %s (%s)\n", o.Encap, o.VNI, o.Chassis, o.TunnelIP)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText prints an annotated ofproto/trace: each table step with
// Wyvern's table name and the feature of the flow that matched.
func (t *OFTrace) WriteText(w io.Writer) error {
	var b strings.Builder
	where := ""
	if t.Chassis != "" {
		where = " of chassis " + t.Chassis
	}
	fmt.Fprintf(&b, "ofproto/trace on %s%s\nFlow: %s\n", t.Bridge, where, t.Flow)
	for i, p := range t.Passes {
		if i == 0 {
			b.WriteString("\n")
		} else {
			fmt.Fprintf(&b, "\n-- %s\n", p.Title)
		}
		for _, s := range p.Steps {
			ind := strings.Repeat("    ", s.Depth)
			name := s.Name
			switch {
			case s.Bridge != t.Bridge:
				name = "[" + s.Bridge + "]"
			case name == "":
				name = "?"
			}
			feat := s.Feature
			if feat == "" {
				feat = "not Wyvern's"
				if s.Cookie == "" {
					feat = "-"
				}
			}
			fmt.Fprintf(&b, "%s%3d %-16s %-14s prio %-4d %s\n", ind, s.Table, name, feat, s.Priority, s.Match)
			for _, a := range s.Actions {
				fmt.Fprintf(&b, "%s      %s\n", ind, a)
			}
		}
		fmt.Fprintf(&b, "  datapath actions: %s\n", p.DatapathActions)
	}
	verdict := t.Final
	if t.Dropped {
		verdict = "drop"
	}
	fmt.Fprintf(&b, "\nFinal datapath actions: %s\n", verdict)
	if a := t.Agreement; a != nil {
		fmt.Fprintf(&b, "Logical vs bridge: %s\n", a.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
