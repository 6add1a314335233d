package testbed

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelFree keeps the package generic: it must not import Wyvern's
// model, store or agent.
func TestModelFree(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			for _, bad := range []string{"/internal/model", "/internal/store", "/internal/agent"} {
				if strings.Contains(p, bad) {
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
}

func TestReadLease(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env")
	env := "interface=eth0\nip=10.0.0.7\nmask=24\nsubnet=255.255.255.0\nrouter=10.0.0.1 10.0.0.2\n" +
		"dns=10.0.0.53 10.0.0.54\nmtu=1400\ndomain=wyvern.test\nstaticroutes=10.1.0.0/16 10.0.0.1 0.0.0.0/0 10.0.0.1\n"
	if err := os.WriteFile(p, []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := readLease(p)
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr.String() != "10.0.0.7/24" || l.Router.String() != "10.0.0.1" || len(l.DNS) != 2 ||
		l.MTU != 1400 || l.Domain != "wyvern.test" || len(l.StaticRoutes) != 2 ||
		l.StaticRoutes[1] != "0.0.0.0/0 10.0.0.1" || l.Env["interface"] != "eth0" {
		t.Errorf("lease %+v", l)
	}
	for _, bad := range []string{"mask=24\n", "ip=10.0.0.7\n", "ip=10.0.0.7\nmask=24\nmtu=x\n"} {
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readLease(p); err == nil {
			t.Errorf("readLease accepted %q", bad)
		}
	}
}

func TestNames(t *testing.T) {
	for name, ok := range map[string]bool{"ch1": true, "vm-web-1": true, "a": true,
		"": false, "Ch1": false, "-x": false, "abcdefghijklm": false, "a_b": false} {
		if nameRE.MatchString(name) != ok {
			t.Errorf("name %q: ok = %v", name, !ok)
		}
	}
	for ns, want := range map[string]string{"wyv3fa2-ul": "wyv3fa2", "wyv3fa2-c-ch1": "wyv3fa2", "wyv3fa2": "wyv3fa2",
		"wyt-3fa2": "", "wyv3fa": "", "plq7-ch1": "", "wyv3fa2x": ""} {
		got := ""
		if m := bedPrefixRE.FindStringSubmatch(ns); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("prefix of %q = %q, want %q", ns, got, want)
		}
	}
	m := pingRE.FindStringSubmatch("3 packets transmitted, 2 received, +1 errors, 33% packet loss")
	if m == nil || m[2] != "2" {
		t.Errorf("ping summary not parsed: %v", m)
	}
}

func TestProcIdentity(t *testing.T) {
	start, state, err := procIdentity(os.Getpid())
	if err != nil || start == 0 || state == 'Z' {
		t.Fatalf("self: %d %c %v", start, state, err)
	}
	if !sameProcess(os.Getpid(), start) || sameProcess(os.Getpid(), start+1) {
		t.Error("sameProcess does not tell processes apart by start time")
	}
}
