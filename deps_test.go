package tools

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/wyvern-sdn/wyvern"

// A depRule says which imports the non-test files of a set of packages may
// have. Packages are directories relative to the repository root; a rule
// applies to Dir and every directory below it.
type depRule struct {
	// Dir is the directory the rule covers ("internal/model").
	Dir string
	// Why is what the rule protects, for the failure message.
	Why string
	// Allow, when set, is the only imports permitted besides the
	// standard library: exact import paths, or prefixes ending in "/".
	Allow []string
	// StdOnly forbids third-party imports (only with Allow: internal
	// packages named there are still allowed).
	StdOnly bool
	// Deny lists imports that are forbidden (exact, or prefixes ending in
	// "/").
	Deny []string
}

// etcdClient is the etcd client; only internal/store may import it.
const etcdClient = "go.etcd.io/etcd/client/v3"

// depRules are the repository's layering, stated once. DESIGN.md and
// docs/architecture.md explain them.
var depRules = []depRule{
	{Dir: "internal/model", Why: "the model is pure data", StdOnly: true, Allow: []string{}},
	{Dir: "internal/pipeline", Why: "the compiler is pure: a View in, flows out",
		StdOnly: true, Allow: []string{module + "/internal/ofp"}},
	{Dir: "internal/logical", Why: "the logical translation is pure: model records in, a View out",
		StdOnly: true, Allow: []string{module + "/internal/model", module + "/internal/pipeline", module + "/internal/ofp"}},
	{Dir: "internal/ofp", Why: "flows as values", StdOnly: true, Allow: []string{}},
	{Dir: "internal/ovs", Why: "the OVS layer knows nothing of Wyvern's model",
		Deny: []string{module + "/internal/model", module + "/internal/store", module + "/internal/pipeline",
			module + "/internal/logical", module + "/internal/agent", module + "/internal/api/"}},
}

// mayImportEtcd says whether dir may import the etcd client: only the store
// and its subpackages talk to etcd.
func mayImportEtcd(dir string) bool {
	return dir == "internal/store" || strings.HasPrefix(dir, "internal/store/")
}

// imports maps each directory (relative, slash-separated) to the imports of
// its non-test Go files, with the file that has each.
func imports(t *testing.T, root string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if out[rel] == nil {
			out[rel] = map[string]string{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[rel][p] = filepath.Base(path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isStd(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

func matches(p string, list []string) bool {
	for _, l := range list {
		if p == l || (strings.HasSuffix(l, "/") && strings.HasPrefix(p, l)) {
			return true
		}
	}
	return false
}

func under(dir, root string) bool { return dir == root || strings.HasPrefix(dir, root+"/") }

// violations checks every directory's imports against the rules and returns
// one line per broken rule, sorted.
func violations(pkgs map[string]map[string]string) []string {
	var out []string
	for dir, imps := range pkgs {
		for p, file := range imps {
			where := dir + "/" + file + " imports " + p
			if (p == etcdClient || strings.HasPrefix(p, etcdClient+"/")) && !mayImportEtcd(dir) {
				out = append(out, where+": only internal/store talks to etcd")
			}
			for _, r := range depRules {
				if !under(dir, r.Dir) {
					continue
				}
				internal := strings.HasPrefix(p, module+"/")
				switch {
				case matches(p, r.Deny):
					out = append(out, where+": "+r.Why)
				case r.Allow != nil && !isStd(p) && !matches(p, r.Allow) &&
					(r.StdOnly || internal) && !under(strings.TrimPrefix(p, module+"/"), r.Dir):
					out = append(out, where+": "+r.Why)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestDependencies states what each package may import: only internal/store
// imports the etcd client; model, logical, pipeline and ofp stay pure; ovs
// knows nothing of the model.
func TestDependencies(t *testing.T) {
	pkgs := imports(t, ".")
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages: is the test running at the repository root?", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestDependencyRulesBite shows that each rule fails when broken.
func TestDependencyRulesBite(t *testing.T) {
	for _, c := range []struct {
		dir, imp string
	}{
		{"internal/agent", etcdClient},
		{"internal/api/neutron", etcdClient + "/concurrency"},
		{"bench/api", etcdClient},
		{"internal/model", "github.com/spf13/cobra"},
		{"internal/model", module + "/internal/store"},
		{"internal/pipeline", module + "/internal/model"},
		{"internal/pipeline", "go.etcd.io/etcd/api/v3/mvccpb"},
		{"internal/logical", module + "/internal/store"},
		{"internal/logical", module + "/internal/ovs"},
		{"internal/ovs", module + "/internal/model"},
		{"internal/ovs/ovstest", module + "/internal/store"},
	} {
		pkgs := map[string]map[string]string{c.dir: {c.imp: "x.go"}}
		if len(violations(pkgs)) == 0 {
			t.Errorf("%s importing %s passes the rules", c.dir, c.imp)
		}
	}
	ok := map[string]map[string]string{
		"internal/store":          {etcdClient: "store.go"},
		"internal/store/embedded": {"go.etcd.io/etcd/server/v3/embed": "embedded.go"},
		"internal/logical":        {module + "/internal/model": "a.go", module + "/internal/pipeline": "a.go", "net/netip": "a.go"},
		"internal/pipeline":       {module + "/internal/ofp": "a.go"},
		"internal/ovs":            {"github.com/ovn-org/libovsdb/client": "db.go", module + "/internal/ovs/vswitchd": "db.go"},
	}
	if v := violations(ok); len(v) > 0 {
		t.Errorf("allowed imports refused: %v", v)
	}
}
