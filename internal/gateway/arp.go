package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// resolveUpstream keeps the upstream router's MAC resolved: the host's
// kernel ARPs for it through the bridge's LOCAL interface (prodded by a
// datagram to the discard port) and the answer is read back from the
// neighbour table, every few seconds until found, then every refresh. Each
// answer is sent to out, which the gateway ignores when unchanged. A
// configured MAC short-circuits all of this.
func resolveUpstream(ctx context.Context, ip netip.Addr, refresh time.Duration, out chan<- net.HardwareAddr, log *slog.Logger) {
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		mac, err := neighbour(ip)
		if err != nil {
			log.Debug("upstream router not resolved yet", "ip", ip, "err", err)
			prod(ip)
			sleepCtx(ctx, wait)
			wait = min(wait*2, 5*time.Second)
			continue
		}
		select {
		case out <- mac:
		case <-ctx.Done():
			return
		}
		wait = 200 * time.Millisecond
		prod(ip) // keep the entry fresh
		sleepCtx(ctx, refresh)
	}
}

// prod makes the kernel resolve ip: a UDP datagram to its discard port.
func prod(ip netip.Addr) {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 9)))
	if err != nil {
		return
	}
	c.Write([]byte{0})
	c.Close()
}

// neighbour looks ip up in the kernel's ARP table (/proc/net/arp).
func neighbour(ip netip.Addr) (net.HardwareAddr, error) {
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		return nil, fmt.Errorf("gateway: neighbour table: %w", err)
	}
	defer f.Close()
	return parseARPTable(f, ip)
}

// parseARPTable finds a complete entry for ip in /proc/net/arp's format:
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	198.51.100.1     0x1         0x2         02:00:c6:33:64:01     *        br-edge
func parseARPTable(r io.Reader, ip netip.Addr) (net.HardwareAddr, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0] != ip.String() {
			continue
		}
		if f[2] != "0x2" && f[2] != "0x6" { // ATF_COM (| ATF_PERM)
			continue
		}
		m, err := net.ParseMAC(f[3])
		if err != nil || m.String() == "00:00:00:00:00:00" {
			continue
		}
		return m, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("gateway: neighbour table: %w", err)
	}
	return nil, fmt.Errorf("gateway: no neighbour entry for %s", ip)
}
