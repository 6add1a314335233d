package ovs_test

import (
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ovs"
)

func TestEncodeOfpPrintExplore(t *testing.T) {
	for i, r := range representative {
		b, err := ovs.AppendFlowMod(nil, uint32(i+1), ovs.CmdAdd, r.flow)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(b)).CombinedOutput()
		t.Logf("%d: %s %v", i, strings.TrimSpace(string(out)), err)
	}
}
