package agent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wyvern-sdn/wyvern/internal/model"
	"github.com/wyvern-sdn/wyvern/internal/ovs"
	"github.com/wyvern-sdn/wyvern/internal/pipeline"
)

// The metadata service at 169.254.169.254, as OpenStack's metadata agent
// gives it, from the local agent: br-int's internal port MetadataIface
// holds the address in the agent's network namespace, the pipeline
// steers each local port's requests to it with a source naming the port
// (pipeline.MetadataSource), and the agent answers: it proxies to Nova's
// metadata API with the instance's headers and signature when one is
// configured, else it serves openstack/latest/meta_data.json and
// network_data.json built from the port.

// MetadataIface is the name of br-int's metadata port.
const MetadataIface = "wyv-meta"

// MetadataSwitch is a Switch that can make the metadata port.
type MetadataSwitch interface {
	// MetadataPort makes (idempotently) br-int's internal port name,
	// configures its kernel interface in network namespace netns ("":
	// the agent's), and returns its OpenFlow port and MAC.
	MetadataPort(ctx context.Context, name, netns string) (uint32, net.HardwareAddr, error)
}

// inNetns is a command run in network namespace netns ("": here).
func inNetns(ctx context.Context, netns string, args ...string) *exec.Cmd {
	if netns != "" {
		args = append([]string{"ip", "netns", "exec", netns}, args...)
	}
	return exec.CommandContext(ctx, args[0], args[1:]...)
}

// MetadataPort implements MetadataSwitch.
func (s *OVSSwitch) MetadataPort(ctx context.Context, name, netns string) (uint32, net.HardwareAddr, error) {
	ifs, err := s.db.Interfaces(ctx, s.cfg.Bridge)
	if err != nil {
		return 0, nil, err
	}
	port := uint32(0)
	if i, ok := ifs[name]; ok && i.OFPort > 0 {
		port = uint32(i.OFPort)
	} else if port, err = s.db.AddPort(ctx, s.cfg.Bridge, ovs.PortConfig{Name: name, Type: "internal"}); err != nil {
		return 0, nil, err
	}
	// The internal port's kernel interface, in this namespace.
	var mac net.HardwareAddr
	for deadline := time.Now().Add(5 * time.Second); ; {
		if b, err := inNetns(ctx, netns, "cat", "/sys/class/net/"+name+"/address").Output(); err == nil {
			if mac, err = net.ParseMAC(strings.TrimSpace(string(b))); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("agent: metadata interface %s did not appear", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range [][]string{
		{"ip", "link", "set", "dev", name, "arp", "off", "up"},
		{"ip", "addr", "replace", pipeline.MetadataIP.String() + "/32", "dev", name},
		{"ip", "route", "replace", pipeline.MetadataSources.String(), "dev", name},
		// The userspace datapath does not complete checksums the kernel
		// leaves to the device.
		{"ethtool", "-K", name, "tx", "off"},
	} {
		if out, err := inNetns(ctx, netns, c...).CombinedOutput(); err != nil && c[0] != "ethtool" {
			return 0, nil, fmt.Errorf("agent: metadata interface: %s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	// IPv6 (fe80::a9fe:a9fe), best effort: on this interface, whatever
	// the namespace's default.
	for _, c := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv6.conf." + name + ".disable_ipv6=0"},
		{"ip", "-6", "addr", "replace", pipeline.MetadataIP6.String() + "/128", "dev", name, "nodad"},
		{"ip", "-6", "route", "replace", pipeline.MetadataSources6.String(), "dev", name},
	} {
		if out, err := inNetns(ctx, netns, c...).CombinedOutput(); err != nil {
			s.log.Warn("metadata over IPv6 not served", "cmd", strings.Join(c, " "), "err", err, "out", string(out))
			break
		}
	}
	return port, mac, nil
}

// startMetadata makes the metadata port and serves HTTP on it.
func (a *Agent) startMetadata(ctx context.Context) error {
	ms, ok := a.sw.(MetadataSwitch)
	if !ok {
		return errors.New("agent: the switch cannot make a metadata port")
	}
	port, mac, err := ms.MetadataPort(ctx, MetadataIface, a.cfg.MetadataNetns)
	if err != nil {
		return err
	}
	ln, err := listenIn(a.cfg.MetadataNetns, netip.AddrPortFrom(pipeline.MetadataIP, 80).String())
	if err != nil {
		return fmt.Errorf("agent: metadata listener: %w", err)
	}
	a.meta = &pipeline.MetadataPort{OFPort: port, MAC: mac}
	srv := &http.Server{Handler: http.HandlerFunc(a.serveMetadata), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	serve := func(ln net.Listener) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metadata server", "err", err)
		}
	}
	go serve(ln)
	addr6 := netip.AddrPortFrom(pipeline.MetadataIP6.WithZone(MetadataIface), 80).String()
	if ln6, err := listenIn(a.cfg.MetadataNetns, addr6); err == nil {
		go serve(ln6)
	} else {
		a.log.Warn("metadata over IPv6 not served", "err", err)
	}
	a.log.Info("metadata service", "ofport", port, "mac", mac)
	return nil
}

// listenIn listens on addr in network namespace netns ("": here). The
// socket stays in the namespace it was made in, whatever thread accepts.
func listenIn(netns, addr string) (net.Listener, error) {
	if netns == "" {
		return net.Listen("tcp", addr)
	}
	type result struct {
		ln  net.Listener
		err error
	}
	res := make(chan result, 1)
	go func() {
		// The thread is left in the namespace and locked: it ends with
		// this goroutine.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + netns)
		if err != nil {
			res <- result{err: fmt.Errorf("agent: metadata namespace: %w", err)}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- result{err: fmt.Errorf("agent: enter namespace %s: %w", netns, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		res <- result{ln, err}
	}()
	r := <-res
	if r.err != nil {
		return nil, fmt.Errorf("agent: metadata listener: %w", r.err)
	}
	return r.ln, nil
}

// metaPort is what a metadata answer needs of a port, copied in the loop.
type metaPort struct {
	port    model.Port
	network model.Network
	subnets map[string]model.Subnet
}

// metadataPort finds the local port of a request's source, through the
// loop that owns the state.
func (a *Agent) metadataPort(ctx context.Context, remote string) (*metaPort, error) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return nil, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, err
	}
	key, ok := pipeline.MetadataKey(ip)
	if ip.Is6() {
		key, ok = pipeline.MetadataKey6(ip.WithZone(""))
	}
	if !ok {
		return nil, fmt.Errorf("source %s is no port's", ip)
	}
	res := make(chan *metaPort, 1)
	a.post(ctx, event{call: func() {
		p, nd, _ := a.localPort(key)
		if p == nil {
			res <- nil
			return
		}
		m := &metaPort{port: *p, subnets: map[string]model.Subnet{}}
		if nd.network != nil {
			m.network = *nd.network
		}
		for id, s := range nd.subnets {
			m.subnets[id] = *s
		}
		res <- m
	}})
	select {
	case m := <-res:
		if m == nil {
			return nil, fmt.Errorf("no local port with key %d", key)
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *Agent) serveMetadata(w http.ResponseWriter, r *http.Request) {
	m, err := a.metadataPort(r.Context(), r.RemoteAddr)
	if err != nil {
		http.Error(w, "unknown instance", http.StatusNotFound)
		a.log.Debug("metadata: no port", "remote", r.RemoteAddr, "err", err)
		return
	}
	if a.cfg.NovaMetadataURL != "" {
		a.proxyNova(w, r, m)
		return
	}
	var body any
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/openstack/latest/meta_data.json":
		body = metaData(m)
	case "/openstack/latest/network_data.json":
		body = networkData(m)
	case "/openstack/latest":
		_, _ = fmt.Fprint(w, "meta_data.json\nnetwork_data.json\n")
		return
	case "/openstack":
		_, _ = fmt.Fprint(w, "latest\n")
		return
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// InstanceSignature is X-Instance-ID-Signature: HMAC-SHA256 of the
// instance id with the shared secret, hex, as Nova checks it.
func InstanceSignature(secret, instanceID string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(instanceID))
	return hex.EncodeToString(h.Sum(nil))
}

// proxyNova forwards the request to Nova's metadata API with the
// instance's headers, as neutron-metadata-agent does.
func (a *Agent) proxyNova(w http.ResponseWriter, r *http.Request, m *metaPort) {
	target, err := url.Parse(a.cfg.NovaMetadataURL)
	if err != nil {
		http.Error(w, "bad Nova metadata URL", http.StatusInternalServerError)
		return
	}
	vmIP := ""
	for _, f := range m.port.FixedIPs {
		if ip, err := netip.ParseAddr(f.IPAddress); err == nil && ip.Is4() {
			vmIP = ip.String()
			break
		}
	}
	p := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Header.Set("X-Forwarded-For", vmIP)
		pr.Out.Header.Set("X-Instance-ID", m.port.DeviceID)
		pr.Out.Header.Set("X-Tenant-ID", m.port.ProjectID)
		pr.Out.Header.Set("X-Instance-ID-Signature", InstanceSignature(a.cfg.MetadataSecret, m.port.DeviceID))
	}}
	p.ServeHTTP(w, r)
}

// metaData is meta_data.json of a port.
func metaData(m *metaPort) map[string]any {
	id := m.port.DeviceID
	if id == "" {
		id = m.port.ID
	}
	name := m.port.Name
	if name == "" {
		name = id
	}
	return map[string]any{
		"uuid": id, "name": name, "hostname": name, "project_id": m.port.ProjectID,
		"availability_zone": "nova", "launch_index": 0, "meta": map[string]string{}, "public_keys": map[string]string{},
	}
}

// networkData is network_data.json of a port: its link, its addresses
// on each subnet with the subnet's routes, and the DNS servers.
func networkData(m *metaPort) map[string]any {
	link := "tap" + m.port.ID
	if len(link) > 14 {
		link = link[:14]
	}
	mtu := m.network.MTU
	links := []map[string]any{{"id": link, "vif_id": m.port.ID, "type": "ovs", "mtu": mtu,
		"ethernet_mac_address": m.port.MACAddress}}
	var nets []map[string]any
	var dns []map[string]any
	seenDNS := map[string]bool{}
	for i, f := range m.port.FixedIPs {
		s, ok := m.subnets[f.SubnetID]
		if !ok {
			continue
		}
		pfx, err := netip.ParsePrefix(s.CIDR)
		if err != nil {
			continue
		}
		typ := "ipv4"
		if pfx.Addr().Is6() {
			typ = "ipv6"
			switch s.IPv6AddressMode {
			case pipeline.ModeSLAAC:
				typ = "ipv6_slaac"
			case pipeline.ModeStateless:
				typ = "ipv6_dhcpv6-stateless"
			}
		} else if s.EnableDHCP {
			typ = "ipv4_dhcp"
		}
		n := map[string]any{"id": fmt.Sprintf("network%d", i), "link": link, "type": typ,
			"ip_address": f.IPAddress, "netmask": netmask(pfx), "network_id": m.port.NetworkID}
		var routes []map[string]any
		if s.GatewayIP != "" {
			def := "0.0.0.0"
			if pfx.Addr().Is6() {
				def = "::"
			}
			routes = append(routes, map[string]any{"network": def, "netmask": def, "gateway": s.GatewayIP})
		}
		for _, hr := range s.HostRoutes {
			if p, err := netip.ParsePrefix(hr.Destination); err == nil {
				routes = append(routes, map[string]any{"network": p.Masked().Addr().String(), "netmask": netmask(p), "gateway": hr.NextHop})
			}
		}
		if routes == nil {
			routes = []map[string]any{}
		}
		n["routes"] = routes
		nets = append(nets, n)
		for _, d := range s.DNSNameservers {
			if !seenDNS[d] {
				seenDNS[d] = true
				dns = append(dns, map[string]any{"type": "dns", "address": d})
			}
		}
	}
	if nets == nil {
		nets = []map[string]any{}
	}
	if dns == nil {
		dns = []map[string]any{}
	}
	return map[string]any{"links": links, "networks": nets, "services": dns}
}

// netmask is a prefix's mask in dotted (IPv4) or address (IPv6) form.
func netmask(p netip.Prefix) string {
	m := net.CIDRMask(p.Bits(), p.Addr().BitLen())
	a, _ := netip.AddrFromSlice(m)
	return a.String()
}
