package topology

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func std(id, project, name string) model.Standard {
	return model.Standard{ID: id, ProjectID: project, TenantID: project, Name: name}
}

func port(id, project, name, net, ip, host, status string) model.Port {
	return model.Port{Standard: std(id, project, name), NetworkID: net, HostID: host, Status: status,
		FixedIPs: []model.FixedIP{{IPAddress: ip}}, DeviceOwner: "compute:nova"}
}

// scenario is two projects: blue with two networks behind a router with
// SNAT to the external network and a floating IP, red with one network;
// ports on two chassis (one of them dead), one port DOWN, one unbound.
func scenario() *trace.Topology {
	gw := &model.GatewayInfo{NetworkID: "ext", EnableSNAT: true,
		ExternalFixedIPs: []model.ExternalFixedIP{{IPAddress: "203.0.113.2"}}}
	rif := func(id, net, ip string) model.Port {
		p := port(id, "blue", "", net, ip, "", model.StatusActive)
		p.DeviceOwner, p.DeviceID = "network:router_interface_distributed", "r1"
		return p
	}
	dhcp := port("dhcp1", "blue", "", "web", "10.0.1.2", "", model.StatusActive)
	dhcp.DeviceOwner = "network:dhcp"
	return &trace.Topology{
		Networks: []model.Network{
			{Standard: std("web", "blue", "blue-web"), NetworkType: "geneve", SegmentationID: 101},
			{Standard: std("db", "blue", "blue-db"), NetworkType: "geneve", SegmentationID: 102},
			{Standard: std("red", "red", "red-net"), NetworkType: "vxlan", SegmentationID: 201},
			{Standard: std("ext", "admin", "public"), External: true, NetworkType: "flat"},
		},
		Subnets: []model.Subnet{
			{Standard: std("s-web", "blue", "web-v4"), NetworkID: "web", CIDR: "10.0.1.0/24"},
			{Standard: std("s-db", "blue", "db-v4"), NetworkID: "db", CIDR: "10.0.2.0/24"},
			{Standard: std("s-red", "red", ""), NetworkID: "red", CIDR: "10.0.1.0/24"},
			{Standard: std("s-ext", "admin", ""), NetworkID: "ext", CIDR: "203.0.113.0/24"},
		},
		Ports: []model.Port{
			port("p-web1", "blue", "web1", "web", "10.0.1.11", "hv1", model.StatusActive),
			port("p-web2", "blue", "web2", "web", "10.0.1.12", "hv2", model.StatusDown),
			port("p-db1", "blue", "db1", "db", "10.0.2.11", "hv2", model.StatusActive),
			port("p-new", "blue", "", "db", "10.0.2.12", "", model.StatusBuild),
			port("p-red1", "red", "red1", "red", "10.0.1.11", "hv1", model.StatusActive),
			port("p-red2", "red", "red2", "red", "10.0.1.12", "hv3", model.StatusActive),
			rif("ri-web", "web", "10.0.1.1"), rif("ri-db", "db", "10.0.2.1"), dhcp,
		},
		Routers:     []model.Router{{Standard: std("r1", "blue", "blue-router"), Gateway: gw}},
		FloatingIPs: []model.FloatingIP{{Standard: std("f1", "blue", ""), FloatingNetworkID: "ext", FloatingIPAddress: "203.0.113.10", PortID: "p-web1", FixedIPAddress: "10.0.1.11", Status: "ACTIVE"}},
		Chassis:     []trace.Chassis{{Name: "hv1", Alive: true}, {Name: "hv2", Alive: true}, {Name: "hv3", Alive: false}},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/topology -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/topology -update, then review the diff):\n%s", name, got)
	}
}

func TestDOTGolden(t *testing.T) {
	golden(t, "all.dot", DOT(scenario(), Options{}))
	golden(t, "blue.dot", DOT(scenario(), Options{Project: "blue", Links: "/console/ports/"}))
	golden(t, "empty.dot", DOT(&trace.Topology{}, Options{Title: "nothing yet"}))
}

// TestDOTIsDeterministic: the order of the API's lists changes nothing.
func TestDOTIsDeterministic(t *testing.T) {
	a := scenario()
	b := scenario()
	for i, j := 0, len(b.Ports)-1; i < j; i, j = i+1, j-1 {
		b.Ports[i], b.Ports[j] = b.Ports[j], b.Ports[i]
	}
	b.Networks[0], b.Networks[3] = b.Networks[3], b.Networks[0]
	if !bytes.Equal(DOT(a, Options{}), DOT(b, Options{})) {
		t.Error("the DOT depends on the order of the lists")
	}
}

// TestProjectFilter: a project sees its own resources and the external
// network its router and floating IP use, nothing of another project.
func TestProjectFilter(t *testing.T) {
	dot := string(DOT(scenario(), Options{Project: "red"}))
	for _, absent := range []string{"blue-web", "public", "web1", "blue-router"} {
		if strings.Contains(dot, absent) {
			t.Errorf("project red's picture shows %s", absent)
		}
	}
	if !strings.Contains(dot, "red1") || !strings.Contains(dot, "chassis hv3 (down)") {
		t.Errorf("project red's picture lacks its port or its dead chassis:\n%s", dot)
	}
}

// TestRenderSVGParses: dot renders the graph into SVG that parses as XML
// and shows the networks and ports, and into a PNG.
func TestRenderSVGParses(t *testing.T) {
	ctx := context.Background()
	svg, err := Render(ctx, DOT(scenario(), Options{Links: "/console/ports/"}), "svg")
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var root string
	var texts []string
	links := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG does not parse: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
			}
			if el.Name.Local == "a" {
				links++
			}
		case xml.CharData:
			texts = append(texts, strings.TrimSpace(string(el)))
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"blue-web", "public", "blue-router", "web1", "203.0.113.10", "chassis hv1"} {
		if !strings.Contains(all, want) {
			t.Errorf("the SVG does not show %q", want)
		}
	}
	if links < 6 {
		t.Errorf("%d links in the SVG, want one per VM port (6)", links)
	}
	png, err := Render(ctx, DOT(scenario(), Options{}), "png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Error("not a PNG")
	}
	if _, err := Render(ctx, []byte("digraph {"), "svg"); err == nil {
		t.Error("bad DOT rendered without error")
	}
	if _, err := Render(ctx, nil, "gif"); err == nil {
		t.Error("unknown format accepted")
	}
}
