package logical

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// addForwardings adds floating IP f's port forwardings to the view
// (pipeline/portforward.go) and, on the chassis that NATs them, records f
// as programmed and its address as answered here. Who NATs them:
//
//   - distributed: when every forwarding's port is bound on one chassis,
//     which reaches the external network and is not in edge mode, that
//     chassis does, as it would the floating IP of its port;
//   - centralized: else (ports on several chassis, or on one without the
//     external network or in edge mode), the router's active gateway
//     chassis does, when the router SNATs there (as a centralized floating
//     IP); the ports' chassis hand the replies to it with their SNAT
//     traffic. Without an active SNAT gateway nothing serves them, and
//     the reason is in res.Skipped.
//
// Forwardings to ports not in the view or not bound are left out until
// their port is.
func (in *Inputs) addForwardings(v *pipeline.View, f *model.FloatingIPRecord, vr *pipeline.Router, portChassis map[string]string,
	physnet string, extPort uint32, res *Result) {
	fip, err := netip.ParseAddr(f.FloatingIPAddress)
	if err != nil || !fip.Is4() {
		return
	}
	// Its port and the floating IP arrive through different watches:
	// wait for the port (as for a floating IP).
	ext := in.Networks[f.FloatingNetworkID]
	if ext == nil {
		return
	}
	fp := ext.Ports[f.FloatingPort]
	if fp == nil {
		return
	}
	fmac, err := net.ParseMAC(fp.MACAddress)
	if err != nil {
		return
	}
	vf := pipeline.PortForwarding{FloatingIP: fip, RouterID: f.RouterID, MAC: fmac}
	var chassis []string
	for _, pf := range f.PortForwardings {
		pc, inView := portChassis[pf.InternalPortID]
		proto, ok := model.ProtocolNumber(pf.Protocol)
		ip, err := netip.ParseAddr(pf.InternalIPAddress)
		elo, ehi := pf.ExternalRange()
		ilo, ihi := pf.InternalRange()
		// One internal port (1-1, 1-N), or a range onto the same ports
		// (N-N kept as is: InternalPort 0); the API refuses the rest.
		same := ihi > ilo && ilo == elo && ihi == ehi
		if !inView || pc == "" || !ok || err != nil || elo < 1 || ehi > 65535 || elo > ehi ||
			ilo < 1 || ihi > 65535 || ilo != ihi && !same {
			continue
		}
		rule := pipeline.ForwardRule{Protocol: proto, ExternalPort: uint16(elo),
			InternalIP: ip, InternalPort: uint16(ilo), PortID: pf.InternalPortID}
		if ehi > elo {
			rule.ExternalPortMax = uint16(ehi)
		}
		if same {
			rule.InternalPort = 0
		}
		vf.Rules = append(vf.Rules, rule)
		if !slices.Contains(chassis, pc) {
			chassis = append(chassis, pc)
		}
	}
	if len(vf.Rules) == 0 {
		return
	}
	vf.Centralized = len(chassis) > 1 || in.edgeMode(chassis[0]) || !in.reaches(chassis[0], physnet)
	if vf.Centralized && (!vr.Gateway.SNAT || vr.Gateway.Chassis == "") {
		res.Skipped = append(res.Skipped, fmt.Errorf("floating IP %s: port forwardings to ports on %v need the router %s's active SNAT gateway, which it has not: not served",
			f.ID, chassis, vr.ID))
		return
	}
	v.PortForwardings = append(v.PortForwardings, vf)
	here := !vf.Centralized && chassis[0] == in.Local.Name || vf.Centralized && vr.Gateway.Chassis == in.Local.Name
	if extPort != 0 && here {
		res.ProgrammedFIPs[f.ID] = true
		res.Announce[fip] = Announcement{MAC: fmac.String(), Port: extPort}
	}
}
