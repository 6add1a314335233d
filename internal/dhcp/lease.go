package dhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DefaultLeaseTime is the lease time given when Lease.LeaseTime is zero
// (Neutron's default dhcp_lease_duration).
const DefaultLeaseTime = 24 * time.Hour

// InfiniteLease as Lease.LeaseTime (or any negative duration) gives an
// infinite lease (0xffffffff seconds) without renewal or rebinding times,
// as Neutron's dhcp_lease_duration = -1 does.
const InfiniteLease time.Duration = -1

// Errors returned (wrapped) by Respond.
var (
	// ErrMalformed reports a frame that is not a well-formed DHCPv4 client
	// message in an Ethernet/IPv4/UDP frame to port 67.
	ErrMalformed = errors.New("malformed DHCP frame")
	// ErrInvalidLease reports a Lease returned by the lookup that cannot be
	// served (for example an IP outside its prefix).
	ErrInvalidLease = errors.New("invalid DHCP lease")
)

// Lease is everything the responder tells one port's client: the port's
// fixed address and its subnet's settings. The caller builds it from the
// Neutron port and subnet.
type Lease struct {
	// MAC is the port's MAC address (informational; the lookup key).
	MAC net.HardwareAddr
	// IP is the port's fixed IPv4 address on the subnet.
	IP netip.Addr
	// Prefix is the subnet (only its length is sent, as option 1).
	Prefix netip.Prefix
	// Router is the subnet's gateway, sent as option 3 and as the default
	// route in options 121/249; the zero Addr when the subnet has none.
	Router netip.Addr
	// DNS servers, option 6; omitted when empty.
	DNS []netip.Addr
	// MTU, option 26; omitted when zero.
	MTU int
	// HostRoutes, options 121 and 249 (RFC 3442 classless static routes).
	// When present and Router is valid, a default route via Router is added
	// unless HostRoutes already holds 0.0.0.0/0, since RFC 3442 clients
	// ignore option 3 when option 121 is present.
	HostRoutes []Route
	// LeaseTime, option 51, with renewal (58) at 1/2 and rebinding (59) at
	// 7/8 of it. Zero means DefaultLeaseTime, negative InfiniteLease.
	LeaseTime time.Duration
	// DomainName, option 15; omitted when empty.
	DomainName string
	// Hostname, option 12; omitted when empty.
	Hostname string
	// ServerIP is the source address of replies and the server identifier
	// (option 54): the subnet's gateway IP or a per-subnet DHCP address.
	ServerIP netip.Addr
	// ServerMAC is the source MAC of replies.
	ServerMAC net.HardwareAddr
	// Extra holds the port's Neutron extra_dhcp_opts (IPv4 ones). They
	// override the options above; see ValidateExtraOpts for accepted forms.
	// Options that cannot be encoded are left out of replies.
	Extra []ExtraOpt
}

// Route is a classless static route (a Neutron subnet host route).
// NextHop 0.0.0.0 means the destination is on-link.
type Route struct {
	Dst     netip.Prefix
	NextHop netip.Addr
}

// ExtraOpt is one Neutron extra_dhcp_opt: a dnsmasq option name ("router",
// "dns-server", "ntp-server", "tftp-server", "bootfile-name",
// "server-ip-address", ...) or a decimal option code ("66"), and its value
// in dnsmasq syntax (IP lists comma-separated).
type ExtraOpt struct {
	Name  string
	Value string
}

// validate checks the fields Respond relies on.
func (l *Lease) validate() error {
	switch {
	case !l.IP.Is4():
		return fmt.Errorf("%w: IP %v is not IPv4", ErrInvalidLease, l.IP)
	case !l.Prefix.IsValid() || !l.Prefix.Addr().Is4():
		return fmt.Errorf("%w: prefix %v is not IPv4", ErrInvalidLease, l.Prefix)
	case !l.Prefix.Contains(l.IP):
		return fmt.Errorf("%w: IP %v outside prefix %v", ErrInvalidLease, l.IP, l.Prefix)
	case !l.ServerIP.Is4():
		return fmt.Errorf("%w: server IP %v is not IPv4", ErrInvalidLease, l.ServerIP)
	case len(l.ServerMAC) != 6:
		return fmt.Errorf("%w: server MAC %v is not Ethernet", ErrInvalidLease, l.ServerMAC)
	case l.Router.IsValid() && !l.Router.Is4():
		return fmt.Errorf("%w: router %v is not IPv4", ErrInvalidLease, l.Router)
	case l.MTU < 0 || l.MTU > 0xffff || (l.MTU > 0 && l.MTU < 68):
		return fmt.Errorf("%w: MTU %d out of range", ErrInvalidLease, l.MTU)
	}
	for _, d := range l.DNS {
		if !d.Is4() {
			return fmt.Errorf("%w: DNS server %v is not IPv4", ErrInvalidLease, d)
		}
	}
	for _, r := range l.HostRoutes {
		if !r.Dst.IsValid() || !r.Dst.Addr().Is4() || !r.NextHop.Is4() {
			return fmt.Errorf("%w: host route %v via %v is not IPv4", ErrInvalidLease, r.Dst, r.NextHop)
		}
	}
	return nil
}
