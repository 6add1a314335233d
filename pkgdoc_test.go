package tools

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// packageDocs maps each directory holding Go files to whether one of its
// files (tests included, for test-only packages) has a package doc comment.
func packageDocs(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
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
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		out[dir] = out[dir] || hasDoc(f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hasDoc reports whether f's package clause carries a doc comment.
func hasDoc(f *ast.File) bool {
	return f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != ""
}

// TestPackageDocs requires a doc comment on every package, cmd/ included.
func TestPackageDocs(t *testing.T) {
	docs := packageDocs(t, ".")
	if len(docs) < 10 {
		t.Fatalf("found only %d packages: is the test running at the repository root?", len(docs))
	}
	var missing []string
	for dir, ok := range docs {
		if !ok {
			missing = append(missing, dir)
		}
	}
	sort.Strings(missing)
	for _, dir := range missing {
		t.Errorf("package %s has no doc comment", dir)
	}
}

// TestPackageDocsBite shows the check refuses a package without a doc
// comment and accepts one with it.
func TestPackageDocsBite(t *testing.T) {
	for src, want := range map[string]bool{
		"package x\n":                            false,
		"// just a comment\n\npackage x\n":       false,
		"// Package x does y.\npackage x\n":      true,
		"//go:build linux\n\npackage x\n":        false,
		"// Command w runs it.\npackage main\n":  true,
		"/*\nPackage x does y.\n*/\npackage x\n": true,
	} {
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if got := hasDoc(f); got != want {
			t.Errorf("hasDoc(%q) = %v, want %v", src, got, want)
		}
	}
}
