package benchbed

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestKeep(t *testing.T) {
	bed, dst := t.TempDir(), filepath.Join(t.TempDir(), "kept")
	for _, f := range []string{"ch1/wyvern-agent.log", "ch1/ovs-vswitchd.log", "ul/wyvern-server.log", "megaflows-1.txt", "other.txt"} {
		if err := os.MkdirAll(filepath.Join(bed, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bed, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Keep(bed, dst, "*/wyvern-*.log", "megaflows-*.txt"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"ch1-wyvern-agent.log", "megaflows-1.txt", "ul-wyvern-server.log"}
	if !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "ch1-wyvern-agent.log")); string(b) != "ch1/wyvern-agent.log" {
		t.Errorf("content %q", b)
	}
}

func TestParseProbe(t *testing.T) {
	got, failed, err := ParseProbe([]byte("120 lost 3400\n"), "lost")
	if err != nil || failed != 1 || len(got) != 2 || got[1] != 3400*time.Microsecond {
		t.Fatalf("%v %d %v", got, failed, err)
	}
	if _, _, err := ParseProbe([]byte("12 x"), "lost"); err == nil {
		t.Fatal("a word that is no latency accepted")
	}
}
