package cli

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wyvern-sdn/wyvern/internal/bgp"
)

// ParseBGPPeer parses a --bgp-peer value: ADDRESS,as=AS[,port=P][,password=PW][,hold=D]
// [,keepalive=D][,connect-retry=D][,passive].
func ParseBGPPeer(s string) (bgp.Peer, error) {
	var p bgp.Peer
	items := strings.Split(s, ",")
	a, err := netip.ParseAddr(strings.TrimSpace(items[0]))
	if err != nil {
		return p, fmt.Errorf("address: %w", err)
	}
	p.Address = a
	for _, item := range items[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
		var err error
		switch k {
		case "as":
			p.AS, err = strconv.ParseUint(v, 10, 64)
		case "port":
			p.Port, err = strconv.Atoi(v)
		case "password":
			p.Password = v
		case "hold":
			p.HoldTime, err = time.ParseDuration(v)
		case "keepalive":
			p.KeepAlive, err = time.ParseDuration(v)
		case "connect-retry":
			p.ConnectRetry, err = time.ParseDuration(v)
		case "passive":
			p.Passive = true
		default:
			return p, fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return p, fmt.Errorf("%s: %w", k, err)
		}
	}
	if p.AS == 0 {
		return p, fmt.Errorf("as=AS is required (1 to 4294967295)")
	}
	return p, nil
}

// BGPFlags are the agent's BGP speaker flags, spelt as `wyvern gateway`
// spells its own: --bgp-as, --bgp-router-id, --bgp-listen-port,
// --bgp-listen-address, the repeatable --bgp-peer, and
// --bgp-graceful-restart (the agent's alone: a gateway's routes must go
// when it dies).
type BGPFlags struct {
	localAS               uint64
	routerID, listenAddrs string
	listenPort            int
	peers                 []string
	gracefulRestart       time.Duration
}

// Add registers the flags on fs; defaultPort is --bgp-listen-port's
// default (179, or -1 to only connect out).
func (b *BGPFlags) Add(fs *pflag.FlagSet, defaultPort int) {
	fs.Uint64Var(&b.localAS, "bgp-as", 0, "local AS number (0: no BGP)")
	fs.StringVar(&b.routerID, "bgp-router-id", "", "BGP router id (default: the first external address)")
	fs.IntVar(&b.listenPort, "bgp-listen-port", defaultPort, "TCP port for incoming BGP sessions (-1: only connect out)")
	fs.StringVar(&b.listenAddrs, "bgp-listen-address", "", "comma-separated addresses to accept BGP on (default: all)")
	fs.StringArrayVar(&b.peers, "bgp-peer", nil, "BGP neighbour, ADDRESS,as=AS[,port=P][,password=PW][,hold=90s][,keepalive=30s][,connect-retry=5s][,passive] (repeatable)")
	fs.DurationVar(&b.gracefulRestart, "bgp-graceful-restart", 120*time.Second, "BGP graceful restart time (RFC 4724, whole seconds up to 4095s; 0: off): peers acting as helpers keep this chassis' routes while its agent restarts, as its flows keep forwarding")
}

// Config builds the speaker's configuration from the flags; nil when no
// local AS was given (no BGP), an error when other BGP flags were set
// without one or a value is bad. It is not validated (bgp.Config.Validate).
func (b *BGPFlags) Config() (*bgp.Config, error) {
	if b.localAS == 0 {
		if len(b.peers) > 0 || b.routerID != "" {
			return nil, fmt.Errorf("--bgp-peer and --bgp-router-id need --bgp-as")
		}
		return nil, nil
	}
	if b.localAS > 1<<32-1 {
		return nil, fmt.Errorf("--bgp-as %d: AS number must be 1 to 4294967295", b.localAS)
	}
	c := &bgp.Config{LocalAS: uint32(b.localAS), ListenPort: b.listenPort, GracefulRestart: b.gracefulRestart}
	if b.routerID != "" {
		a, err := netip.ParseAddr(b.routerID)
		if err != nil {
			return nil, fmt.Errorf("--bgp-router-id: %w", err)
		}
		c.RouterID = a
	}
	for _, s := range SplitList(b.listenAddrs) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--bgp-listen-address: %w", err)
		}
		c.ListenAddresses = append(c.ListenAddresses, a)
	}
	for _, s := range b.peers {
		p, err := ParseBGPPeer(s)
		if err != nil {
			return nil, fmt.Errorf("--bgp-peer %q: %w", s, err)
		}
		c.Peers = append(c.Peers, p)
	}
	return c, nil
}
