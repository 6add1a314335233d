package pipeline

import (
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// unfingerprinted lists the View fields no flow depends on, with the
// reason: changing them must change no section's fingerprint, nor any flow.
var unfingerprinted = map[string]string{
	"Local.TunnelIP": "the local end of a tunnel is the tunnel port's own setting (OVSDB), not a flow's",
	"Subnets[].ID":   "flows name networks, never subnets",
	"Subnets[].Gateway": "a router's address on a subnet comes from its RouterPort; " +
		"the subnet's gateway_ip is for DHCP, answered by the agent",
}

// TestEveryViewFieldFingerprinted changes every leaf field of every golden
// scenario's view, one at a time, and checks that some section's
// fingerprint changes: a section hash that forgot an input would keep
// stale flows. Whatever the fingerprints, a change that leaves them all
// alone must leave the flows alone too. Every field of View's type must be
// changed in some scenario, and each field changing no fingerprint in any
// scenario must be listed in unfingerprinted.
func TestEveryViewFieldFingerprinted(t *testing.T) {
	fingerprinted := map[string]bool{}
	seen := map[string]bool{}
	for _, sc := range scenarios() {
		base := sc.view()
		baseSecs := CompileSections(base, sc.cfg, 1, nil)
		baseFlows := strings.Join(flowTexts(Flatten(baseSecs)), "\n")
		n := walkView(reflect.ValueOf(cloneView(t, base)).Elem(), "", -1)
		for i := range n {
			v := cloneView(t, base)
			path := ""
			walkView(reflect.ValueOf(v).Elem(), "", i, func(p string) { path = p })
			seen[path] = true
			secs := CompileSections(v, sc.cfg, 1, baseSecs)
			changed := len(secs) != len(baseSecs)
			for j := 0; !changed && j < len(secs); j++ {
				changed = secs[j].ID != baseSecs[j].ID || secs[j].Hash != baseSecs[j].Hash
			}
			if changed {
				fingerprinted[path] = true
				continue
			}
			if got := strings.Join(flowTexts(Compile(v, sc.cfg, 1)), "\n"); got != baseFlows {
				t.Errorf("%s: changing %s (leaf %d) changes flows but no section's fingerprint:\n%s",
					sc.name, path, i, lineDiff(baseFlows, got))
			}
		}
	}
	paths := viewTypePaths(reflect.TypeFor[View](), "")
	slices.Sort(paths)
	paths = slices.Compact(paths)
	for _, p := range paths {
		_, listed := unfingerprinted[p]
		switch {
		case !seen[p]:
			t.Errorf("%s: no golden scenario sets it; extend one", p)
		case fingerprinted[p] && listed:
			t.Errorf("%s changes a fingerprint but is listed in unfingerprinted", p)
		case !fingerprinted[p] && !listed:
			t.Errorf("%s: changing it changes no section's fingerprint in any scenario; "+
				"hash it where it is read, or list it in unfingerprinted with the reason", p)
		}
	}
	for p := range unfingerprinted {
		if !slices.Contains(paths, p) {
			t.Errorf("unfingerprinted lists %s, which View does not have", p)
		}
	}
}

var (
	typeAddr   = reflect.TypeFor[netip.Addr]()
	typePrefix = reflect.TypeFor[netip.Prefix]()
	typeMAC    = reflect.TypeFor[net.HardwareAddr]()
)

// isLeaf reports whether values of t are changed as a whole.
func isLeaf(t reflect.Type) bool {
	switch t {
	case typeAddr, typePrefix, typeMAC:
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Pointer, reflect.Map, reflect.Array:
		return false
	}
	return true
}

// walkView counts the leaves of v (a field of a struct, an element of a
// slice, a pointer, set or not) in a fixed order and changes the one
// numbered target, calling found with its path (Ports[].MAC): the path of
// its type, the same for every element of a slice.
func walkView(v reflect.Value, path string, target int, found ...func(string)) int {
	n := 0
	var walk func(v reflect.Value, path string)
	leaf := func(v reflect.Value, path string) {
		if n == target {
			changeLeaf(v)
			for _, f := range found {
				f(path)
			}
		}
		n++
	}
	walk = func(v reflect.Value, path string) {
		t := v.Type()
		switch {
		case isLeaf(t):
			leaf(v, path)
		case t.Kind() == reflect.Struct:
			for i := range t.NumField() {
				walk(v.Field(i), join(path, t.Field(i).Name))
			}
		case t.Kind() == reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), path+"[]")
			}
		case t.Kind() == reflect.Pointer:
			leaf(v, path) // set or cleared
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		default:
			panic("walkView: extend it to " + t.String() + " at " + path)
		}
	}
	walk(v, path)
	return n
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// changeLeaf gives v another value of its type.
func changeLeaf(v reflect.Value) {
	switch t := v.Type(); {
	case t == typeAddr:
		a := v.Interface().(netip.Addr)
		switch {
		case !a.IsValid():
			a = netip.MustParseAddr("10.99.99.99")
		case a.Next().IsValid():
			a = a.Next()
		default:
			a = a.Prev()
		}
		v.Set(reflect.ValueOf(a))
	case t == typePrefix:
		p := v.Interface().(netip.Prefix)
		switch {
		case !p.IsValid():
			p = netip.MustParsePrefix("10.99.0.0/16")
		case p.Bits() > 0:
			p = netip.PrefixFrom(p.Addr(), p.Bits()-1)
		default:
			p = netip.PrefixFrom(p.Addr(), 1)
		}
		v.Set(reflect.ValueOf(p))
	case t == typeMAC:
		m := slices.Clone(v.Interface().(net.HardwareAddr))
		if len(m) == 6 {
			m[5] ^= 1
		} else {
			m = net.HardwareAddr{0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc}
		}
		v.Set(reflect.ValueOf(m))
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		} else {
			v.SetZero()
		}
	case t.Kind() == reflect.String:
		v.SetString(v.String() + "-x")
	case t.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	case v.CanInt():
		v.SetInt(v.Int() + 1)
	case v.CanUint():
		v.SetUint(v.Uint() + 1)
	default:
		panic("changeLeaf: extend it to " + t.String())
	}
}

// viewTypePaths lists the leaf paths of type t, as walkView names them.
func viewTypePaths(t reflect.Type, path string) []string {
	switch {
	case isLeaf(t):
		return []string{path}
	case t.Kind() == reflect.Struct:
		var out []string
		for i := range t.NumField() {
			out = append(out, viewTypePaths(t.Field(i).Type, join(path, t.Field(i).Name))...)
		}
		return out
	case t.Kind() == reflect.Slice:
		return viewTypePaths(t.Elem(), path+"[]")
	case t.Kind() == reflect.Pointer:
		return append([]string{path}, viewTypePaths(t.Elem(), path)...)
	}
	panic("viewTypePaths: extend it to " + t.String() + " at " + path)
}
