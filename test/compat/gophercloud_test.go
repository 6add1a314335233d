package compat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// gophercloudVersion is the gophercloud release whose acceptance tests we
// run; it is the one go.mod pins.
const gophercloudVersion = "v2.15.0"

// acceptancePackages are gophercloud's networking acceptance packages we
// run, relative to the module root. The first holds networks, subnets,
// ports, API versions and the extensions listing; "extensions" holds
// security groups, tags (attributestags) and provider networks; "layer3"
// routers and floating IPs; "subnetpools" subnet pools. Not run: "quotas",
// whose update sets an rbac_policy quota, and Wyvern serves no RBAC
// policies to limit.
var acceptancePackages = []string{
	"./internal/acceptance/openstack/networking/v2",
	"./internal/acceptance/openstack/networking/v2/extensions",
	"./internal/acceptance/openstack/networking/v2/extensions/layer3",
	"./internal/acceptance/openstack/networking/v2/extensions/subnetpools",
}

// knownGaps are acceptance tests allowed to fail, keyed by the last
// element of their package path and their name, each with the reason. Keep
// it short and honest: every entry is a Neutron feature Wyvern does not
// implement. An entry whose test passes is reported so it can be removed.
var knownGaps = map[string]string{}

// TestGophercloudAcceptance runs gophercloud's own networking acceptance
// tests against a real wyvern server and fails if any test fails that is
// not a known gap.
func TestGophercloudAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("compat: runs gophercloud's acceptance suite against a server; skipped with -short")
	}
	srv := startServer(t, buildWyvern(t))
	extNet := createExternalNetwork(t, srv)
	src := gophercloudModuleDir(t)
	work := filepath.Join(t.TempDir(), "gophercloud")
	if out, err := exec.Command("cp", "-r", src, work).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", src, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", work).CombinedOutput(); err != nil {
		t.Fatalf("chmod %s: %v\n%s", work, err, out)
	}

	env := append(withoutOSVars(os.Environ()),
		"OS_AUTH_URL="+srv.authURL(),
		"OS_USERNAME="+srv.admin.user, // "admin": RequireAdmin tests run too
		"OS_PASSWORD="+srv.admin.password,
		"OS_PROJECT_NAME="+srv.admin.project,
		"OS_DOMAIN_ID=default",
		"OS_EXTGW_ID="+extNet,
		"OS_POOL_NAME=public",
		"OS_BRANCH=master",
		// Compute choices the clients package insists on; unused here.
		"OS_IMAGE_ID=compat-unused-image",
		"OS_FLAVOR_ID=1",
		"OS_FLAVOR_ID_RESIZE=2",
		"GOFLAGS=-mod=mod -buildvcs=false",
		"GOWORK=off",
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	args := append([]string{"test", "-tags", "acceptance", "-json", "-count=1", "-p", "1", "-timeout", "15m"}, acceptancePackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = work
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("go test: %v", err)
	}
	res, perr := parseTestEvents(stdout)
	werr := cmd.Wait()
	if perr != nil {
		t.Fatalf("reading go test -json: %v", perr)
	}
	if ctx.Err() != nil {
		t.Fatalf("acceptance tests did not finish within 20 minutes")
	}
	report(t, res, werr, stderr.String())
}

// createExternalNetwork creates the external network "public" with a
// subnet, as the layer3 tests need (OS_EXTGW_ID), and returns its id.
func createExternalNetwork(t *testing.T, srv *server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provider, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: srv.authURL(),
		Username:         srv.admin.user,
		Password:         srv.admin.password,
		DomainID:         "default",
		Scope:            &gophercloud.AuthScope{ProjectName: srv.admin.project, DomainID: "default"},
	})
	if err != nil {
		t.Fatalf("authenticate as admin: %v", err)
	}
	client, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatalf("network client: %v", err)
	}
	yes := true
	net, err := networks.Create(ctx, client, external.CreateOptsExt{
		CreateOptsBuilder: networks.CreateOpts{Name: "public"},
		External:          &yes,
	}).Extract()
	if err != nil {
		t.Fatalf("create external network: %v", err)
	}
	gw := "198.51.100.1"
	if _, err := subnets.Create(ctx, client, subnets.CreateOpts{
		NetworkID: net.ID, Name: "public-subnet", CIDR: "198.51.100.0/24", IPVersion: gophercloud.IPv4, GatewayIP: &gw,
	}).Extract(); err != nil {
		t.Fatalf("create external subnet: %v", err)
	}
	return net.ID
}

// gophercloudModuleDir returns the module cache directory of gophercloud,
// downloading the module if needed.
func gophercloudModuleDir(t *testing.T) string {
	t.Helper()
	mod := "github.com/gophercloud/gophercloud/v2@" + gophercloudVersion
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v\n%s", mod, err, out)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s: %v %s\n%s", mod, err, info.Error, out)
	}
	return info.Dir
}

// testEvent is one line of `go test -json` (cmd/test2json).
type testEvent struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// pkgResult is the outcome of one package.
type pkgResult struct {
	pass, skip, fail []string          // top-level test names
	output           map[string]string // test name ("" for the package) -> output
	failed           bool              // the package itself failed (build, panic, timeout)
}

func parseTestEvents(r io.Reader) (map[string]*pkgResult, error) {
	res := map[string]*pkgResult{}
	get := func(p string) *pkgResult {
		if res[p] == nil {
			res[p] = &pkgResult{output: map[string]string{}}
		}
		return res[p]
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev testEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // a non-JSON line (go command chatter)
		}
		pkg := ev.Package
		if pkg == "" {
			pkg = ev.ImportPath
		}
		if pkg == "" {
			continue
		}
		p := get(pkg)
		top := ev.Test
		if i := strings.IndexByte(top, '/'); i >= 0 {
			top = top[:i]
		}
		switch ev.Action {
		case "output", "build-output":
			p.output[top] += ev.Output
		case "pass", "skip", "fail":
			switch {
			case ev.Test == "" && ev.Action == "fail":
				p.failed = true
			case ev.Test == "" || ev.Test != top:
			case ev.Action == "pass":
				p.pass = append(p.pass, ev.Test)
			case ev.Action == "skip":
				p.skip = append(p.skip, ev.Test)
			default:
				p.fail = append(p.fail, ev.Test)
			}
		case "build-fail":
			p.failed = true
		}
	}
	return res, sc.Err()
}

// report logs per-package counts and every failure with its output, and
// fails t for each failure that is not a known gap.
func report(t *testing.T, res map[string]*pkgResult, runErr error, stderr string) {
	if len(res) == 0 {
		t.Fatalf("go test ran no acceptance package: %v\n%s", runErr, stderr)
	}
	pkgs := make([]string, 0, len(res))
	for p := range res {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	var pass, skip, fail, allowed int
	for _, pkg := range pkgs {
		p := res[pkg]
		short := path.Base(pkg)
		var allowedHere int
		for _, name := range p.fail {
			key := short + "." + name
			if why, ok := knownGaps[key]; ok {
				allowedHere++
				t.Logf("known gap %s failed (%s)", key, why)
				continue
			}
			t.Errorf("acceptance test %s failed:\n%s", key, lastLines(p.output[name], 30))
		}
		for _, name := range p.pass {
			if _, ok := knownGaps[short+"."+name]; ok {
				t.Logf("known gap %s.%s now passes: remove it from knownGaps", short, name)
			}
		}
		t.Logf("%s: pass=%d skip=%d fail=%d (known gaps %d)", pkg, len(p.pass), len(p.skip), len(p.fail), allowedHere)
		for _, name := range p.skip {
			t.Logf("  skipped %s: %s", name, skipReason(p.output[name]))
		}
		if p.failed && len(p.fail) == 0 {
			t.Errorf("acceptance package %s failed without a failing test (build error, panic or timeout):\n%s",
				pkg, lastLines(p.output[""], 40))
		}
		pass, skip, fail, allowed = pass+len(p.pass), skip+len(p.skip), fail+len(p.fail), allowed+allowedHere
	}
	t.Logf("gophercloud %s networking acceptance summary: pass=%d skip=%d fail=%d (known gaps %d)",
		gophercloudVersion, pass, skip, fail, allowed)
	fmt.Fprintf(os.Stderr, "gophercloud %s networking acceptance summary: pass=%d skip=%d fail=%d (known gaps %d)\n",
		gophercloudVersion, pass, skip, fail, allowed)
	if runErr != nil && fail == 0 && !t.Failed() {
		t.Errorf("go test exited with %v but reported no failure:\n%s", runErr, stderr)
	}
}

// skipReason is the last line of a skipped test's output that is not
// go test's own framing.
func skipReason(out string) string {
	lines := strings.Split(stripANSI(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "===") {
			return l
		}
	}
	return ""
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansiEscape.ReplaceAllString(s, "") }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(stripANSI(s), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
