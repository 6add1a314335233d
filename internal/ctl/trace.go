package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/spf13/cobra"

	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/trace"
)

// traceOutput is trace's JSON output.
type traceOutput struct {
	Logical *trace.Result  `json:"logical"`
	OFProto *trace.OFTrace `json:"ofproto,omitempty"`
}

// traceOVS are the flags of trace --ovs.
type traceOVS struct {
	enabled bool
	ovsdb   string
	rundir  string
	bridge  string
	appctl  string
	ctNext  []string
}

func (a *app) traceCommand() *cobra.Command {
	var o traceOVS
	var fromExternal string
	cmd := &cobra.Command{
		Use:   "trace PORT PACKET | trace --from-external NETWORK PACKET",
		Short: "Trace a packet from a port through the logical pipeline (and ofproto/trace with --ovs)",
		Long: `Trace follows a packet sent by PORT (name or id) through Wyvern's
distributed pipeline, computed from the Neutron model read through the API
(like ovn-trace): port security, the egress security groups and the rule
that admits the packet, the L2 or L3 decision (router, route, TTL, MACs),
NAT, the ingress security groups of the destination port and the chassis
that delivers it, with the tunnel (VNI) that carries it there. The packet
is traced as the first packet of a new connection; replies of allowed
connections always pass.

PACKET is a protocol and comma-separated clauses:
  tcp, dst 10.0.2.5:22          udp, src 10.0.1.4:5000, dst 10.0.2.5:53
  icmp, dst 10.0.2.5[, type 8, code 0]     arp, dst 10.0.1.1
  ip proto 47, dst 10.0.2.5     any of them with ", ttl N"
The source address defaults to the port's first IPv4 fixed IP.

With --ovs, run on the source port's chassis (as the agent's flags:
--ovsdb, --ovs-rundir), it also builds the concrete flow (in_port found
in OVSDB by iface-id), runs ofproto/trace on br-int and prints each table
step with Wyvern's table name and the feature in the flow's cookie, then
the datapath actions. That trace covers this chassis only: the ingress
security groups of a port on another chassis run there.

With --from-external NETWORK, the packet arrives from that external
network (source: the external subnet's gateway unless given) to a floating
IP: its 1:1 DNAT or the port forwarding that takes the protocol and port
(any other new connection to a forwarded floating IP is dropped), the
chassis that NATs it, the route to the port and its ingress security
groups; or, IPv6, to a port's own address on a router's IPv6 subnet,
routed without NAT by the router's active gateway chassis.`,
		Example: `  wyvernctl trace vm1 'tcp, dst 10.0.2.5:22'
  wyvernctl trace vm1 'icmp, dst 10.0.2.5' -o json
  wyvernctl trace vm1 'tcp, dst 10.0.2.5:22' --ovs --ovsdb unix:/run/openvswitch/db.sock --ovs-rundir /run/openvswitch
  wyvernctl trace --from-external public 'tcp, src 198.51.100.7:40000, dst 203.0.113.20:2222'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if fromExternal != "" {
				return cobra.ExactArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			pkt, err := trace.ParsePacket(args[len(args)-1])
			if err != nil {
				return err
			}
			if fromExternal != "" && o.enabled {
				return fmt.Errorf("trace: --ovs traces from a port's chassis; not with --from-external")
			}
			c, err := a.networkClient(ctx)
			if err != nil {
				return err
			}
			topo, err := loadTopology(ctx, c)
			if err != nil {
				return err
			}
			var res *trace.Result
			if fromExternal != "" {
				res, err = trace.RunInbound(topo, fromExternal, pkt)
			} else {
				var id string
				if id, err = a.resolve(ctx, portKind, args[0]); err != nil {
					return err
				}
				res, err = trace.Run(topo, id, pkt)
			}
			if err != nil {
				return err
			}
			out := traceOutput{Logical: res}
			if o.enabled {
				if out.OFProto, err = o.run(ctx, res); err != nil {
					return err
				}
			}
			if a.output == "json" {
				return writeJSON(a.stdout, out)
			}
			if err := res.WriteText(a.stdout); err != nil {
				return err
			}
			if out.OFProto != nil {
				fmt.Fprintln(a.stdout)
				return out.OFProto.WriteText(a.stdout)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&fromExternal, "from-external", "", "trace a packet arriving from this external network (name or id) to a floating IP")
	f.BoolVar(&o.enabled, "ovs", false, "also run ofproto/trace on this chassis' bridge (the source port's chassis)")
	f.StringVar(&o.ovsdb, "ovsdb", "unix:/run/openvswitch/db.sock", "OVSDB endpoint of the local Open vSwitch (with --ovs)")
	f.StringVar(&o.rundir, "ovs-rundir", "/run/openvswitch", "ovs-vswitchd's run directory, for its control socket (with --ovs)")
	f.StringVar(&o.appctl, "ovs-appctl-target", "", "ovs-vswitchd control socket (default: found in --ovs-rundir)")
	f.StringVar(&o.bridge, "bridge", "br-int", "integration bridge (with --ovs)")
	f.StringArrayVar(&o.ctNext, "ct-next", []string{"trk,new"}, "ct_state after each conntrack recirculation, as ofproto/trace --ct-next (repeatable; the last repeats)")
	return cmd
}

// run traces the result's packet on the local bridge.
func (o *traceOVS) run(ctx context.Context, res *trace.Result) (*trace.OFTrace, error) {
	db, err := ovs.Open(ctx, o.ovsdb, nil)
	if err != nil {
		return nil, fmt.Errorf("--ovs: %w", err)
	}
	defer db.Close()
	ifs, err := db.Interfaces(ctx, o.bridge)
	if err != nil {
		return nil, fmt.Errorf("--ovs: interfaces of %s: %w", o.bridge, err)
	}
	inPort := 0
	for _, i := range ifs {
		if i.IfaceID() == res.Source.ID && i.OFPort > 0 {
			inPort = i.OFPort
		}
	}
	if inPort == 0 {
		return nil, fmt.Errorf("--ovs: no interface of %s has iface-id %s: run on the port's chassis (%s)", o.bridge, res.Source.ID, res.Source.Chassis)
	}
	flow, err := res.OFFlow(inPort)
	if err != nil {
		return nil, err
	}
	target := o.appctl
	if target == "" {
		if target, err = vswitchdCtl(o.rundir); err != nil {
			return nil, err
		}
	}
	// Each conntrack recirculation consumes one --ct-next; the pipeline
	// has at most four per chassis (egress ACL, router NAT twice, ingress
	// ACL), so the last state given is repeated up to that.
	var extra []string
	states := o.ctNext
	if len(states) == 0 {
		states = []string{"trk,new"}
	}
	for i := 0; i < max(4, len(states)); i++ {
		extra = append(extra, "--ct-next", states[min(i, len(states)-1)])
	}
	raw, err := ovs.Appctl{Target: target}.Trace(ctx, o.bridge, flow, extra...)
	if err != nil {
		return nil, fmt.Errorf("--ovs: %w", err)
	}
	t := trace.Annotate(raw)
	t.Chassis, t.Bridge = res.Source.Chassis, o.bridge
	ag := trace.Compare(res, &t)
	t.Agreement = &ag
	return &t, nil
}

// vswitchdCtl finds ovs-vswitchd's control socket in its run directory.
func vswitchdCtl(runDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(runDir, "ovs-vswitchd.pid"))
	if err != nil {
		return "", fmt.Errorf("--ovs: ovs-vswitchd pid: %w", err)
	}
	pid := strings.TrimSpace(string(b))
	if pid == "" {
		return "", errors.New("--ovs: empty ovs-vswitchd pid file")
	}
	return filepath.Join(runDir, "ovs-vswitchd."+pid+".ctl"), nil
}

// loadTopology reads the logical model through the API: every network,
// subnet, port, router, floating IP, security group and rule the caller
// may see, and the chassis (agents; admin only, empty otherwise).
func loadTopology(ctx context.Context, c *gophercloud.ServiceClient) (*trace.Topology, error) {
	return trace.LoadTopology(func(path, key string, into any) error {
		err := getList(ctx, c, path, key, into)
		// Chassis are optional: without the agents extension (or its
		// list) the trace only lacks tunnel addresses.
		if path == "agents" && gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		return err
	})
}

// getList GETs a collection and decodes its list into into.
func getList(ctx context.Context, c *gophercloud.ServiceClient, path, key string, into any) error {
	var body map[string]json.RawMessage
	resp, err := c.Get(ctx, c.ServiceURL(path), &body, nil)
	if err != nil {
		return fmt.Errorf("list %s: %w", path, err)
	}
	resp.Body.Close()
	raw, ok := body[key]
	if !ok {
		return fmt.Errorf("list %s: no %q in the answer", path, key)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("list %s: %w", path, err)
	}
	return nil
}
