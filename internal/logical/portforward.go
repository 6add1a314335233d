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
		if !inView || pc == "" || !ok || err != nil || pf.ExternalPort < 1 || pf.ExternalPort > 65535 ||
			pf.InternalPort < 1 || pf.InternalPort > 65535 {
			continue
		}
		vf.Rules = append(vf.Rules, pipeline.ForwardRule{Protocol: proto, ExternalPort: uint16(pf.ExternalPort),
			InternalIP: ip, InternalPort: uint16(pf.InternalPort), PortID: pf.InternalPortID})
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
