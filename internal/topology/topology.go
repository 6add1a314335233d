// Package topology draws a cloud's logical network as a Graphviz graph:
// networks with their subnets, routers with their interfaces and gateway,
// the external network, floating IPs, and the VM ports grouped by the
// chassis they are bound to, each coloured by its status. The DOT text is
// generated here, deterministically (golden files in testdata); Render
// runs Graphviz's dot to turn it into SVG or PNG. It is what `wyvernctl
// topology` prints and what the web console shows.
package topology

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/trace"
)

// Options select what is drawn.
type Options struct {
	// Project keeps only that project's resources (by id), plus the
	// shared and external networks they use. Empty: everything.
	Project string
	// Title labels the graph.
	Title string
	// Links makes each port node a link to Links+port id (the console's
	// port page), so an SVG can be clicked through.
	Links string
}

// StatusColors are the fill colours of a port by status; anything else is
// grey.
var StatusColors = map[string]string{
	model.StatusActive: "#b7e4c7", // green
	model.StatusDown:   "#f4a6a6", // red
	model.StatusBuild:  "#ffe39f", // yellow
	model.StatusError:  "#e63946",
}

const unknownColor = "#dddddd"

// id makes a DOT identifier for a resource.
func id(kind, s string) string { return quote(kind + "_" + s) }

// quote is a DOT double-quoted string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func name(s model.Standard) string {
	if s.Name != "" {
		return s.Name
	}
	if len(s.ID) > 8 {
		return s.ID[:8]
	}
	return s.ID
}

// vmPort reports whether a port is drawn as a port node: VM (and other
// non-network) ports. Router interfaces and gateways become edges; DHCP
// and floating IP ports are implied.
func vmPort(p *model.Port) bool { return !strings.HasPrefix(p.DeviceOwner, "network:") }

// DOT returns the graph of t as Graphviz DOT text.
func DOT(t *trace.Topology, o Options) []byte {
	g := filter(t, o.Project)
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	title := o.Title
	if title == "" {
		title = "Wyvern topology"
		if o.Project != "" {
			title += " — project " + o.Project
		}
	}
	w("digraph wyvern {")
	w("  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, label=%s, labelloc=t, nodesep=0.3, ranksep=0.9, newrank=true];", quote(title))
	w("  node [fontname=\"Helvetica\", fontsize=10, style=\"rounded,filled\", fillcolor=\"white\"];")
	w("  edge [fontname=\"Helvetica\", fontsize=9, arrowhead=none];")

	subnets := map[string][]model.Subnet{}
	for _, s := range g.Subnets {
		subnets[s.NetworkID] = append(subnets[s.NetworkID], s)
	}
	// Networks: the external ones first.
	w("  // networks")
	for _, n := range g.Networks {
		label := name(n.Standard)
		if n.External {
			label += "\n(external)"
		}
		switch {
		case n.SegmentationID != 0:
			label += fmt.Sprintf("\n%s %d", n.NetworkType, n.SegmentationID)
		case n.NetworkType != "":
			label += "\n" + n.NetworkType
		}
		for _, s := range subnets[n.ID] {
			label += "\n" + s.CIDR
		}
		color := "#dbe9f6"
		if n.External {
			color = "#fde2c8"
		}
		w("  %s [shape=box, style=\"filled,bold\", fillcolor=%s, label=%s, tooltip=%s];", id("net", n.ID), quote(color),
			quote(label), quote("network "+n.ID))
	}
	// Routers, their interfaces and their gateway.
	w("  // routers")
	ifaces := map[string][]model.Port{}
	for _, p := range g.Ports {
		if strings.HasPrefix(p.DeviceOwner, "network:router_interface") || p.DeviceOwner == "network:router_gateway" {
			ifaces[p.DeviceID] = append(ifaces[p.DeviceID], p)
		}
	}
	netIDs := map[string]bool{}
	for _, n := range g.Networks {
		netIDs[n.ID] = true
	}
	for _, r := range g.Routers {
		label := name(r.Standard)
		if r.Gateway != nil && r.Gateway.EnableSNAT {
			label += "\nSNAT"
		}
		w("  %s [shape=octagon, style=filled, fillcolor=\"#e9d8fd\", label=%s, tooltip=%s];", id("router", r.ID), quote(label), quote("router "+r.ID))
		gwDrawn := false
		for _, p := range ifaces[r.ID] {
			if !netIDs[p.NetworkID] {
				continue
			}
			if p.DeviceOwner == "network:router_gateway" {
				// The external network ranks before the router.
				w("  %s -> %s [label=%s, style=bold, color=\"#d9822b\"];", id("net", p.NetworkID), id("router", r.ID), quote(addrs(p)))
				gwDrawn = true
				continue
			}
			w("  %s -> %s [label=%s];", id("router", r.ID), id("net", p.NetworkID), quote(addrs(p)))
		}
		if r.Gateway != nil && !gwDrawn && netIDs[r.Gateway.NetworkID] {
			var ips []string
			for _, f := range r.Gateway.ExternalFixedIPs {
				ips = append(ips, f.IPAddress)
			}
			w("  %s -> %s [label=%s, style=bold, color=\"#d9822b\"];", id("net", r.Gateway.NetworkID), id("router", r.ID), quote(strings.Join(ips, "\n")))
		}
	}
	// VM ports, grouped by chassis.
	w("  // ports by chassis")
	byChassis := map[string][]model.Port{}
	for _, p := range g.Ports {
		if vmPort(&p) {
			byChassis[p.HostID] = append(byChassis[p.HostID], p)
		}
	}
	alive := map[string]bool{}
	for _, c := range t.Chassis {
		alive[c.Name] = c.Alive
	}
	hosts := make([]string, 0, len(byChassis))
	for h := range byChassis {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	for _, h := range hosts {
		label, color := "chassis "+h, "#f7f7f7"
		if h == "" {
			label = "unbound"
		} else if a, known := alive[h]; known && !a {
			label += " (down)"
			color = "#fbe3e3"
		}
		w("  subgraph %s {", quote("cluster_chassis_"+h))
		w("    label=%s; style=\"rounded,filled\"; fillcolor=%s; color=\"#999999\";", quote(label), quote(color))
		for _, p := range byChassis[h] {
			fill, ok := StatusColors[p.Status]
			if !ok {
				fill = unknownColor
			}
			attrs := fmt.Sprintf("shape=box, fillcolor=%s, label=%s, tooltip=%s", quote(fill),
				quote(name(p.Standard)+"\n"+addrs(p)+"\n"+p.Status), quote("port "+p.ID+" "+p.Status))
			if o.Links != "" {
				attrs += ", URL=" + quote(o.Links+p.ID) + ", target=\"_top\""
			}
			w("    %s [%s];", id("port", p.ID), attrs)
		}
		w("  }")
	}
	for _, h := range hosts {
		for _, p := range byChassis[h] {
			if netIDs[p.NetworkID] {
				w("  %s -> %s;", id("net", p.NetworkID), id("port", p.ID))
			}
		}
	}
	// Floating IPs: on the external network, mapped to a port.
	w("  // floating IPs")
	ports := map[string]bool{}
	for _, p := range g.Ports {
		if vmPort(&p) {
			ports[p.ID] = true
		}
	}
	for _, f := range g.FloatingIPs {
		w("  %s [shape=note, style=filled, fillcolor=\"#fff3bf\", label=%s, tooltip=%s];", id("fip", f.ID),
			quote(f.FloatingIPAddress+"\n"+f.Status), quote("floating IP "+f.ID))
		if netIDs[f.FloatingNetworkID] {
			w("  %s -> %s [style=dotted];", id("net", f.FloatingNetworkID), id("fip", f.ID))
		}
		if f.PortID != "" && ports[f.PortID] {
			w("  %s -> %s [style=dashed, arrowhead=normal, label=%s];", id("fip", f.ID), id("port", f.PortID), quote(f.FixedIPAddress))
		}
	}
	w("}")
	return b.Bytes()
}

// addrs joins a port's fixed addresses.
func addrs(p model.Port) string {
	var out []string
	for _, f := range p.FixedIPs {
		out = append(out, f.IPAddress)
	}
	return strings.Join(out, "\n")
}

// filter returns the resources to draw, sorted (external networks first,
// then by name and id), keeping only project's when it is set.
func filter(t *trace.Topology, project string) trace.Topology {
	var g trace.Topology
	mine := func(s model.Standard) bool { return project == "" || s.ProjectID == project }
	used := map[string]bool{} // networks the project's resources touch
	for _, p := range t.Ports {
		if mine(p.Standard) {
			g.Ports = append(g.Ports, p)
			used[p.NetworkID] = true
		}
	}
	for _, r := range t.Routers {
		if mine(r.Standard) {
			g.Routers = append(g.Routers, r)
			if r.Gateway != nil {
				used[r.Gateway.NetworkID] = true
			}
		}
	}
	for _, f := range t.FloatingIPs {
		if mine(f.Standard) {
			g.FloatingIPs = append(g.FloatingIPs, f)
			used[f.FloatingNetworkID] = true
		}
	}
	// Router ports belong to the router's project; keep those of kept
	// routers even if another project owns them.
	routers := map[string]bool{}
	for _, r := range g.Routers {
		routers[r.ID] = true
	}
	if project != "" {
		for _, p := range t.Ports {
			if !mine(p.Standard) && routers[p.DeviceID] {
				g.Ports = append(g.Ports, p)
				used[p.NetworkID] = true
			}
		}
	}
	for _, n := range t.Networks {
		if mine(n.Standard) || used[n.ID] {
			g.Networks = append(g.Networks, n)
		}
	}
	nets := map[string]bool{}
	for _, n := range g.Networks {
		nets[n.ID] = true
	}
	for _, s := range t.Subnets {
		if nets[s.NetworkID] {
			g.Subnets = append(g.Subnets, s)
		}
	}
	byName := func(a, b model.Standard) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) }
	slices.SortFunc(g.Networks, func(a, b model.Network) int {
		if a.External != b.External {
			if a.External {
				return -1
			}
			return 1
		}
		return byName(a.Standard, b.Standard)
	})
	slices.SortFunc(g.Subnets, func(a, b model.Subnet) int { return cmp.Or(cmp.Compare(a.CIDR, b.CIDR), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(g.Routers, func(a, b model.Router) int { return byName(a.Standard, b.Standard) })
	slices.SortFunc(g.Ports, func(a, b model.Port) int { return byName(a.Standard, b.Standard) })
	slices.SortFunc(g.FloatingIPs, func(a, b model.FloatingIP) int {
		return cmp.Or(cmp.Compare(a.FloatingIPAddress, b.FloatingIPAddress), cmp.Compare(a.ID, b.ID))
	})
	return g
}

// Formats are the formats Render produces besides DOT itself.
var Formats = []string{"svg", "png"}

// Render runs Graphviz's dot on the DOT text and returns the picture in
// format (svg or png). It needs the dot program (Debian's graphviz).
func Render(ctx context.Context, dot []byte, format string) ([]byte, error) {
	if !slices.Contains(Formats, format) {
		return nil, fmt.Errorf("topology: unknown format %q (want dot, svg or png)", format)
	}
	path, err := exec.LookPath("dot")
	if err != nil {
		return nil, fmt.Errorf("topology: rendering %s needs Graphviz's dot (apt-get install graphviz), or use -o dot: %w", format, err)
	}
	cmd := exec.CommandContext(ctx, path, "-T"+format)
	cmd.Stdin = bytes.NewReader(dot)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("topology: dot -T%s: %w: %s", format, err, strings.TrimSpace(stderr.String()))
	}
	if out.Len() == 0 {
		return nil, errors.New("topology: dot produced nothing")
	}
	return out.Bytes(), nil
}
