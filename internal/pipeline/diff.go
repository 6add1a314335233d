package pipeline

import (
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Diff compares the flows installed on a bridge with the desired ones, by
// ofp.Flow.Key (table, priority, match):
//   - add: desired flows with no installed flow of the same key;
//   - modify: desired flows whose installed namesake has other actions or
//     another cookie (a modify-strict with the desired flow fixes it);
//   - del: installed flows no desired flow has the key of.
//
// Each result is in ofp.Sort order. Diff is pure; applying add, modify and
// del to installed yields desired (if keys are unique; for a duplicated
// key the last flow of a list wins).
func Diff(installed, desired []ofp.Flow) (add, modify, del []ofp.Flow) {
	type entry struct {
		flow    ofp.Flow
		actions string
	}
	have := make(map[string]entry, len(installed))
	for _, f := range installed {
		have[f.Key()] = entry{f, actionsText(f)}
	}
	want := make(map[string]struct{}, len(desired))
	for _, f := range desired {
		k := f.Key()
		want[k] = struct{}{}
		h, ok := have[k]
		switch {
		case !ok:
			add = append(add, f)
		case h.flow.Cookie != f.Cookie || h.actions != actionsText(f):
			modify = append(modify, f)
		}
	}
	for k, h := range have {
		if _, ok := want[k]; !ok {
			del = append(del, h.flow)
		}
	}
	add, modify = dedupeLast(add), dedupeLast(modify)
	ofp.Sort(add)
	ofp.Sort(modify)
	ofp.Sort(del)
	return add, modify, del
}

// dedupeLast keeps the last flow of each key.
func dedupeLast(fs []ofp.Flow) []ofp.Flow {
	if len(fs) < 2 {
		return fs
	}
	idx := make(map[string]int, len(fs))
	out := fs[:0:0]
	for _, f := range fs {
		k := f.Key()
		if i, ok := idx[k]; ok {
			out[i] = f
			continue
		}
		idx[k] = len(out)
		out = append(out, f)
	}
	return out
}

func actionsText(f ofp.Flow) string {
	var b strings.Builder
	for i, a := range f.Actions {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.String())
	}
	return b.String()
}
