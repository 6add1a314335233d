package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Capture is a running tcpdump writing a pcap file.
type Capture struct {
	// File is the pcap file (in the node's RunDir).
	File string

	node *Node
	name string
}

// Capture starts tcpdump on an interface of the node, with an optional
// pcap filter ("udp port 6081", "arp"), and returns once it listens.
func (n *Node) Capture(iface string, filter ...string) (*Capture, error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, fmt.Errorf("testbed: capture needs tcpdump: %w", err)
	}
	n.mu.Lock()
	k := 0
	for n.procs[fmt.Sprintf("tcpdump-%s-%d", iface, k)] != nil {
		k++
	}
	name := fmt.Sprintf("tcpdump-%s-%d", iface, k)
	n.procs[name] = &process{done: closedChan()} // reserve the name
	n.mu.Unlock()
	c := &Capture{File: filepath.Join(n.RunDir, name+".pcap"), node: n, name: name}
	logf, err := os.Create(filepath.Join(n.RunDir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	ready := &lineWatcher{w: logf, want: "listening on", ready: make(chan struct{})}
	// -Z root: Debian's tcpdump otherwise drops to user tcpdump and cannot
	// write in the run directory. --immediate-mode: without it packets
	// wait in the ring buffer for a timeout and an early Stop loses them.
	cmd := n.Command(append([]string{"tcpdump", "-i", iface, "-n", "--immediate-mode", "-U", "-Z", "root",
		"-w", c.File}, filter...)...)
	cmd.Stderr = ready
	if err := n.StartProcess(name, cmd); err != nil {
		logf.Close()
		return nil, err
	}
	n.mu.Lock()
	p := n.procs[name]
	n.mu.Unlock()
	go func() { <-p.done; logf.Close() }()
	select {
	case <-ready.ready:
		return c, nil
	case <-p.done:
		return nil, fmt.Errorf("testbed: tcpdump on %s/%s exited: %s", n.Netns, iface, ready.text())
	case <-time.After(n.bed.timeout):
		_ = p.stop(syscall.SIGKILL)
		return nil, fmt.Errorf("testbed: tcpdump on %s/%s not listening after %s: %s", n.Netns, iface, n.bed.timeout, ready.text())
	}
}

// Stop stops tcpdump (it flushes the file) and returns the packets
// captured. It may be called again to re-read the file. Packets still in
// the kernel's buffer when tcpdump stops are lost: a test that counts
// packets it has just sent waits for them first (WaitFor).
func (c *Capture) Stop() ([]Packet, error) {
	if err := c.node.StopProcess(c.name, syscall.SIGINT); err != nil {
		return nil, err
	}
	return c.read()
}

// WaitFor waits until the running capture has written at least n packets
// for which match is true, or d has passed (then an error).
func (c *Capture) WaitFor(d time.Duration, n int, match func(Packet) bool) error {
	deadline := time.Now().Add(d)
	for {
		pkts, err := c.read() // -U: tcpdump writes each packet as it comes
		got := Count(pkts, match)
		if err == nil && got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testbed: capture %s: %d matching packets after %s, want %d (%v)", c.name, got, d, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Capture) read() ([]Packet, error) {
	f, err := os.Open(c.File)
	if err != nil {
		return nil, fmt.Errorf("testbed: capture: %w", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("testbed: capture %s: %w", c.File, err)
	}
	var pkts []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return pkts, fmt.Errorf("testbed: capture %s: %w", c.File, err)
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		p.Metadata().CaptureInfo = ci
		pkts = append(pkts, Packet{p})
	}
	return pkts, nil
}

// Text renders the capture file with tcpdump -r -nn -e (after Stop), for
// a failing test's log.
func (c *Capture) Text() (string, error) {
	return runCmd(c.node.bed.timeout, nil, "tcpdump", "-r", c.File, "-nn", "-e")
}

// Packet is one captured frame, decoded.
type Packet struct {
	gopacket.Packet
}

// IsARP reports an ARP frame.
func (p Packet) IsARP() bool { return p.Layer(layers.LayerTypeARP) != nil }

// Geneve returns the VNI of a Geneve packet (UDP 6081).
func (p Packet) Geneve() (vni uint32, ok bool) {
	if l, ok := p.Layer(layers.LayerTypeGeneve).(*layers.Geneve); ok {
		return l.VNI, true
	}
	return 0, false
}

// VXLAN returns the VNI of a VXLAN packet (UDP 4789).
func (p Packet) VXLAN() (vni uint32, ok bool) {
	if l, ok := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN); ok {
		return l.VNI, true
	}
	return 0, false
}

// Summary is a one-line description of every layer, outer to inner, e.g.
// "eth 02:00:c0:00:02:01>02:00:c0:00:02:02 | ipv4 192.0.2.1>192.0.2.2 |
// udp 51234>6081 | geneve vni=100 | eth ... | icmpv4 EchoRequest".
func (p Packet) Summary() string {
	var parts []string
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			parts = append(parts, fmt.Sprintf("eth %s>%s", l.SrcMAC, l.DstMAC))
		case *layers.ARP:
			parts = append(parts, fmt.Sprintf("arp op=%d %s>%s", l.Operation,
				ipString(l.SourceProtAddress), ipString(l.DstProtAddress)))
		case *layers.IPv4:
			parts = append(parts, fmt.Sprintf("ipv4 %s>%s", l.SrcIP, l.DstIP))
		case *layers.IPv6:
			parts = append(parts, fmt.Sprintf("ipv6 %s>%s", l.SrcIP, l.DstIP))
		case *layers.UDP:
			parts = append(parts, fmt.Sprintf("udp %d>%d", l.SrcPort, l.DstPort))
		case *layers.TCP:
			parts = append(parts, fmt.Sprintf("tcp %d>%d", l.SrcPort, l.DstPort))
		case *layers.ICMPv4:
			parts = append(parts, "icmpv4 "+l.TypeCode.String())
		case *layers.Geneve:
			parts = append(parts, fmt.Sprintf("geneve vni=%d", l.VNI))
		case *layers.VXLAN:
			parts = append(parts, fmt.Sprintf("vxlan vni=%d", l.VNI))
		case *gopacket.Payload:
			parts = append(parts, fmt.Sprintf("payload %dB", len(l.Payload())))
		default:
			parts = append(parts, strings.ToLower(l.LayerType().String()))
		}
	}
	return strings.Join(parts, " | ")
}

// Count returns how many packets satisfy pred.
func Count(pkts []Packet, pred func(Packet) bool) int {
	n := 0
	for _, p := range pkts {
		if pred(p) {
			n++
		}
	}
	return n
}

func ipString(b []byte) string {
	if len(b) == 4 {
		return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
	}
	return fmt.Sprintf("%x", b)
}

// lineWatcher passes writes through to w and closes ready once the text
// written so far contains want.
type lineWatcher struct {
	w     io.Writer
	want  string
	ready chan struct{}

	mu   sync.Mutex
	buf  bytes.Buffer
	seen bool
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() < 64<<10 {
		l.buf.Write(p)
	}
	if !l.seen && strings.Contains(l.buf.String(), l.want) {
		l.seen = true
		close(l.ready)
	}
	return l.w.Write(p)
}

func (l *lineWatcher) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.buf.String())
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
