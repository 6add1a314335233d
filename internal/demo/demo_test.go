package demo

import (
	"context"
	"strings"
	"testing"
)

// TestDemo runs the README's demo end to end (without staying up).
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo; skipped with -short")
	}
	var out strings.Builder
	if err := Run(context.Background(), Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"hv1", "hv2", "DHCP gave", "nothing left behind"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "FAILED") {
		t.Fatalf("demo reported a failure:\n%s", out.String())
	}
}
