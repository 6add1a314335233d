package pipeline

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegFields checks the register layout: every field fits in its 32-bit
// register, names are unique, and no two fields share a bit unless one is
// declared (newRegAlias) as naming bits of the other, within it.
func TestRegFields(t *testing.T) {
	if err := checkRegFields(regFields, regAliases); err != "" {
		t.Error(err)
	}
	if len(regFields) < 13 {
		t.Errorf("only %d register fields declared: regFields misses some", len(regFields))
	}
}

// TestRegFieldsCheckFails makes sure checkRegFields catches an overlap, an
// overflow and an alias outside its field.
func TestRegFieldsCheckFails(t *testing.T) {
	for name, fs := range map[string][]RegField{
		"overlap":  {{Name: "A", Reg: 3, Start: 0, Bits: 16}, {Name: "B", Reg: 3, Start: 15, Bits: 2}},
		"overflow": {{Name: "A", Reg: 3, Start: 31, Bits: 2}},
		"register": {{Name: "A", Reg: 16, Start: 0, Bits: 1}},
		"empty":    {{Name: "A", Reg: 1, Start: 0, Bits: 0}},
		"name":     {{Name: "A", Reg: 1, Start: 0, Bits: 1}, {Name: "A", Reg: 2, Start: 0, Bits: 1}},
		"alias":    {{Name: "A", Reg: 0, Start: 4, Bits: 2}, {Name: "B", Reg: 0, Start: 5, Bits: 2}},
	} {
		if checkRegFields(fs, map[string]string{"B": "A"}) == "" {
			t.Errorf("%s: not reported", name)
		}
	}
	ok := []RegField{{Name: "A", Reg: 0, Start: 4, Bits: 2}, {Name: "B", Reg: 0, Start: 4, Bits: 1}}
	if err := checkRegFields(ok, map[string]string{"B": "A"}); err != "" {
		t.Errorf("an alias inside its field reported: %s", err)
	}
}

func checkRegFields(fs []RegField, aliases map[string]string) string {
	var errs []string
	byName := map[string]RegField{}
	for _, f := range fs {
		if f.Reg < 0 || f.Reg > 15 || f.Start < 0 || f.Bits < 1 || f.Start+f.Bits > 32 {
			errs = append(errs, f.Name+": not within a 32-bit register reg0..reg15")
		}
		if _, dup := byName[f.Name]; dup {
			errs = append(errs, f.Name+": declared twice")
		}
		byName[f.Name] = f
	}
	for i, a := range fs {
		for _, b := range fs[i+1:] {
			if a.Reg != b.Reg || a.Start+a.Bits <= b.Start || b.Start+b.Bits <= a.Start {
				continue
			}
			inside := func(x, y RegField) bool { // x an alias inside y
				return aliases[x.Name] == y.Name && y.Start <= x.Start && x.Start+x.Bits <= y.Start+y.Bits
			}
			if !inside(a, b) && !inside(b, a) {
				errs = append(errs, fmt.Sprintf("%s and %s overlap in reg%d", a.Name, b.Name, a.Reg))
			}
		}
	}
	return strings.Join(errs, "; ")
}

// TestRegFieldsAllDeclared makes sure no register field escapes regFields:
// the package's code builds a RegField literal only in newRegField.
func TestRegFieldsAllDeclared(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "newRegField" {
				continue
			}
			ast.Inspect(d, func(n ast.Node) bool {
				if cl, ok := n.(*ast.CompositeLit); ok {
					if id, ok := cl.Type.(*ast.Ident); ok && id.Name == "RegField" {
						t.Errorf("%s: a RegField built outside newRegField", fset.Position(cl.Pos()))
					}
				}
				return true
			})
		}
	}
}
