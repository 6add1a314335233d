package ovs_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelFree keeps the OVS layer generic: it must not import Wyvern's
// logical model or store.
func TestModelFree(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	more, _ := filepath.Glob("*/*.go")
	for _, f := range append(files, more...) {
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasSuffix(p, "/internal/model") || strings.HasSuffix(p, "/internal/store") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
