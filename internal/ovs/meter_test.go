package ovs

import (
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// TestMeterOfpPrint: meter mods, the meter instruction and the ip_dscp
// set-field as ovs-ofctl reads them.
func TestMeterOfpPrint(t *testing.T) {
	if _, err := exec.LookPath("ovs-ofctl"); err != nil {
		t.Fatalf("ovs-ofctl not found (install openvswitch-switch, see scripts/deps.sh): %v", err)
	}
	flow, err := AppendFlowMod(nil, 3, CmdAdd, ofp.Flow{Table: 16, Priority: 110,
		Match:   []ofp.Field{ofp.Reg(5, 1), ofp.EthType(ofp.EthTypeIPv4)},
		Actions: []ofp.Action{ofp.Meter{ID: 20}, ofp.SetField{Field: ofp.Field{Kind: ofp.FIPDSCP, Value: 46}}, ofp.Goto{Table: 17}}})
	if err != nil {
		t.Fatal(err)
	}
	m := ofp.MeterConfig{ID: 21, RateKbps: 10000, BurstKbits: 8000}
	for _, c := range []struct {
		msg  []byte
		want string
	}{
		{appendMeterMod(nil, 1, ofpmcAdd, m), "ADD meter=21 kbps burst stats bands=\ntype=drop rate=10000 burst_size=8000"},
		{appendMeterMod(nil, 2, ofpmcDelete, m), "DEL meter=21"},
		{flow, "actions=meter:20,set_field:46->ip_dscp,goto_table:17"},
	} {
		out, err := exec.Command("ovs-ofctl", "ofp-print", hex.EncodeToString(c.msg)).CombinedOutput()
		if err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("ofp-print: %v\n%s\nwant %q", err, out, c.want)
		}
	}
	if got := m.String(); got != "meter=21,kbps,burst,stats,bands=type=drop,rate=10000,burst_size=8000" {
		t.Errorf("MeterConfig.String() = %q", got)
	}
	if _, err := AppendActions(nil, []ofp.Action{ofp.Output{Port: 1}, ofp.Meter{ID: 1}}); err == nil {
		t.Error("a meter after another action encoded")
	}
}
