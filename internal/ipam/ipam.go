// Package ipam is Wyvern's address and MAC arithmetic: parsing and
// validating subnets and allocation pools the way Neutron does, default
// gateways and pools, overlap checks, EUI-64 addresses, and the choice of
// candidate addresses and MACs for allocation. It does no I/O: the API
// claims a candidate in an etcd transaction, and comes back here for
// another one when it was taken.
package ipam

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"sort"
	"strings"
)

// Address modes of IPv6 subnets, as Neutron names them.
const (
	ModeSLAAC           = "slaac"
	ModeDHCPv6Stateful  = "dhcpv6-stateful"
	ModeDHCPv6Stateless = "dhcpv6-stateless"
)

// IsAutoAddress reports whether an IPv6 address mode derives addresses
// from the MAC (EUI-64) rather than handing them out.
func IsAutoAddress(addressMode string) bool {
	return addressMode == ModeSLAAC || addressMode == ModeDHCPv6Stateless
}

// ErrInvalidCIDR is returned for text that is not an IP prefix.
var ErrInvalidCIDR = errors.New("not a valid IP subnet")

// HostBitsError is returned for a prefix with host bits set
// ("10.0.0.5/24"); Canonical is what was probably meant.
type HostBitsError struct {
	Given     string
	Canonical netip.Prefix
}

func (e *HostBitsError) Error() string {
	return fmt.Sprintf("'%s' isn't a recommended CIDR, use '%s' instead", e.Given, e.Canonical)
}

// ParseCIDR parses a subnet prefix. It refuses prefixes with host bits set
// and IPv4-mapped IPv6 forms, and returns the prefix in canonical form.
func ParseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("'%s': %w", s, ErrInvalidCIDR)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, &HostBitsError{Given: s, Canonical: m}
	}
	return p, nil
}

// ParseAddr parses one unzoned address, refusing IPv4-mapped IPv6 forms.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("'%s' is not a valid IP address", s)
	}
	return a, nil
}

// Version is 4 or 6.
func Version(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// u128 is an address as a 128-bit unsigned integer, for arithmetic.
type u128 struct{ hi, lo uint64 }

func toU(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var u u128
	for i := 0; i < 8; i++ {
		u.hi = u.hi<<8 | uint64(b[i])
		u.lo = u.lo<<8 | uint64(b[8+i])
	}
	return u
}

func fromU(u u128, v4 bool) netip.Addr {
	if v4 {
		l := uint32(u.lo)
		return netip.AddrFrom4([4]byte{byte(l >> 24), byte(l >> 16), byte(l >> 8), byte(l)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(u.hi >> (8 * i))
		b[15-i] = byte(u.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func (u u128) add(n u128) u128 {
	lo, c := bits.Add64(u.lo, n.lo, 0)
	hi, _ := bits.Add64(u.hi, n.hi, c)
	return u128{hi, lo}
}

func (u u128) sub(n u128) u128 {
	lo, b := bits.Sub64(u.lo, n.lo, 0)
	hi, _ := bits.Sub64(u.hi, n.hi, b)
	return u128{hi, lo}
}

func (u u128) cmp(n u128) int {
	switch {
	case u.hi < n.hi:
		return -1
	case u.hi > n.hi:
		return 1
	case u.lo < n.lo:
		return -1
	case u.lo > n.lo:
		return 1
	}
	return 0
}

func (u u128) isZero() bool { return u.hi == 0 && u.lo == 0 }

// mod returns u mod n (n non-zero) by binary long division.
func (u u128) mod(n u128) u128 {
	if n.hi == 0 {
		// (hi*2^64 + lo) mod n.lo
		_, r := bits.Div64(u.hi%n.lo, u.lo, n.lo)
		return u128{lo: r}
	}
	var r u128
	for i := 127; i >= 0; i-- {
		// r = r<<1 | bit i of u
		r.hi = r.hi<<1 | r.lo>>63
		r.lo <<= 1
		var b uint64
		if i >= 64 {
			b = u.hi >> (i - 64) & 1
		} else {
			b = u.lo >> i & 1
		}
		r.lo |= b
		if r.cmp(n) >= 0 {
			r = r.sub(n)
		}
	}
	return r
}

var one = u128{lo: 1}

// Last returns the last address of a prefix (the IPv4 broadcast address).
func Last(p netip.Prefix) netip.Addr {
	p = p.Masked()
	a := p.Addr()
	width := a.BitLen()
	hostBits := width - p.Bits()
	u := toU(a)
	// set the host bits
	var mask u128
	switch {
	case hostBits >= 128:
		mask = u128{^uint64(0), ^uint64(0)}
	case hostBits >= 64:
		mask = u128{hi: 1<<(hostBits-64) - 1, lo: ^uint64(0)}
	case hostBits > 0:
		mask = u128{lo: 1<<hostBits - 1}
	}
	return fromU(u128{u.hi | mask.hi, u.lo | mask.lo}, a.Is4())
}

// ValidHost reports whether a may be given to a port on subnet p, as
// Neutron's check_subnet_ip: inside p, and not the network (or, in IPv4,
// the broadcast) address. Router ports may take IPv6's subnet-router
// anycast address.
func ValidHost(p netip.Prefix, a netip.Addr, routerPort bool) bool {
	if !p.Contains(a) {
		return false
	}
	if a.Is4() {
		if p.Bits() >= 31 {
			return true
		}
		return a != p.Masked().Addr() && a != Last(p)
	}
	return routerPort || a != p.Masked().Addr()
}

// ValidGateway reports whether a may be the gateway of p: inside p and
// not the network or IPv4 broadcast address.
func ValidGateway(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) {
		return false
	}
	if a.Is4() && p.Bits() < 31 {
		return a != p.Masked().Addr() && a != Last(p)
	}
	return a != p.Masked().Addr() || p.Bits() == a.BitLen()
}

// DefaultGateway is the first host address of p, as Neutron picks it; ok
// is false when p has no room for one (/31, /32, /127, /128).
func DefaultGateway(p netip.Prefix) (netip.Addr, bool) {
	p = p.Masked()
	if p.Addr().BitLen()-p.Bits() < 2 {
		return netip.Addr{}, false
	}
	return p.Addr().Next(), true
}

// Range is an inclusive range of addresses of one family.
type Range struct {
	First, Last netip.Addr
}

// String renders a range as Neutron does in messages ("10.0.0.2-10.0.0.254").
func (r Range) String() string { return r.First.String() + "-" + r.Last.String() }

// Contains reports whether a is in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.BitLen() == r.First.BitLen() && a.Compare(r.First) >= 0 && a.Compare(r.Last) <= 0
}

// Overlaps reports whether two ranges share an address.
func (r Range) Overlaps(o Range) bool {
	return r.First.BitLen() == o.First.BitLen() && r.First.Compare(o.Last) <= 0 && o.First.Compare(r.Last) <= 0
}

// size returns the number of addresses in r minus one (so a full IPv6
// space fits).
func (r Range) span() u128 { return toU(r.Last).sub(toU(r.First)) }

// Count returns how many addresses r holds, saturating at 2^64-1.
func (r Range) Count() uint64 {
	s := r.span()
	if s.hi != 0 || s.lo == ^uint64(0) {
		return ^uint64(0)
	}
	return s.lo + 1
}

// ErrInvalidPool is wrapped by errors for pools that do not parse or
// whose start is after its end or of the wrong family.
var ErrInvalidPool = errors.New("invalid allocation pool")

// ParseRange parses a pool's start and end.
func ParseRange(start, end string) (Range, error) {
	a, err1 := ParseAddr(start)
	b, err2 := ParseAddr(end)
	if err1 != nil || err2 != nil || a.BitLen() != b.BitLen() || a.Compare(b) > 0 {
		return Range{}, fmt.Errorf("%w: %s-%s", ErrInvalidPool, start, end)
	}
	return Range{First: a, Last: b}, nil
}

// DefaultPools is the subnet minus its network address, its IPv4 broadcast
// address and its gateway (when gw is valid), as Neutron's generate_pools.
func DefaultPools(p netip.Prefix, gw netip.Addr) []Range {
	p = p.Masked()
	first := p.Addr()
	last := Last(p)
	if first == last {
		return []Range{{first, last}}
	}
	lo := first.Next()
	hi := last
	if first.Is4() {
		hi = last.Prev()
	}
	if lo.Compare(hi) >= 0 {
		return []Range{}
	}
	r := Range{lo, hi}
	if !gw.IsValid() || !r.Contains(gw) {
		return []Range{r}
	}
	var out []Range
	if gw != lo {
		out = append(out, Range{lo, gw.Prev()})
	}
	if gw != hi {
		out = append(out, Range{gw.Next(), hi})
	}
	if out == nil {
		out = []Range{}
	}
	return out
}

// PoolError is a pool validation failure. Kind tells which of Neutron's
// exceptions it is.
type PoolError struct {
	Kind  PoolErrorKind
	Pool  Range
	Other Range // the second pool of an overlap
	CIDR  netip.Prefix
	IP    netip.Addr // the gateway in a pool
}

// PoolErrorKind distinguishes pool validation failures.
type PoolErrorKind int

// Pool validation failures, named after Neutron's exceptions.
const (
	OutOfBoundsAllocationPool PoolErrorKind = iota + 1
	OverlappingAllocationPools
	GatewayConflictWithAllocationPools
)

func (e *PoolError) Error() string {
	switch e.Kind {
	case OutOfBoundsAllocationPool:
		return fmt.Sprintf("The allocation pool %s spans beyond the subnet cidr %s.", e.Pool, e.CIDR)
	case OverlappingAllocationPools:
		return fmt.Sprintf("Found overlapping allocation pools: %s %s for subnet %s.", e.Pool, e.Other, e.CIDR)
	default:
		return fmt.Sprintf("Gateway ip %s conflicts with allocation pool %s.", e.IP, e.Pool)
	}
}

// SortPools orders pools by their first address.
func SortPools(pools []Range) {
	sort.Slice(pools, func(i, j int) bool { return pools[i].First.Less(pools[j].First) })
}

// ValidatePools checks pools against subnet p and gateway gw (invalid
// Addr: none) as Neutron does: every pool of p's family and inside p's
// host range, no two overlapping, none holding the gateway. The first
// failure is returned as a *PoolError or an error wrapping ErrInvalidPool.
func ValidatePools(p netip.Prefix, gw netip.Addr, pools []Range) error {
	p = p.Masked()
	first, last := p.Addr(), Last(p)
	if first != last {
		first = first.Next()
		if first.Is4() && p.Bits() < 31 {
			last = last.Prev()
		}
	}
	for _, r := range pools {
		if r.First.BitLen() != first.BitLen() || r.Last.BitLen() != first.BitLen() || r.First.Compare(r.Last) > 0 {
			return fmt.Errorf("%w: %s", ErrInvalidPool, r)
		}
		if r.First.Compare(first) < 0 || r.Last.Compare(last) > 0 {
			return &PoolError{Kind: OutOfBoundsAllocationPool, Pool: r, CIDR: p}
		}
	}
	sorted := append([]Range(nil), pools...)
	SortPools(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i-1].Overlaps(sorted[i]) {
			return &PoolError{Kind: OverlappingAllocationPools, Pool: sorted[i-1], Other: sorted[i], CIDR: p}
		}
	}
	if gw.IsValid() {
		for _, r := range pools {
			if r.Contains(gw) {
				return &PoolError{Kind: GatewayConflictWithAllocationPools, Pool: r, IP: gw}
			}
		}
	}
	return nil
}

// InPools reports whether a is in one of pools.
func InPools(pools []Range, a netip.Addr) bool {
	for _, r := range pools {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

// Size returns how many addresses pools hold, saturating at 2^64-1.
func Size(pools []Range) uint64 {
	var n uint64
	for _, r := range pools {
		c := r.Count()
		if n+c < n {
			return ^uint64(0)
		}
		n += c
	}
	return n
}

// Random picks an address uniformly (to within rounding) from pools,
// using rnd for randomness. It returns an invalid Addr when pools are
// empty.
func Random(pools []Range, rnd func() uint64) netip.Addr {
	if len(pools) == 0 {
		return netip.Addr{}
	}
	// Choose a pool weighted by size, then an offset in it.
	r := pools[0]
	if len(pools) > 1 {
		weights := make([]float64, len(pools))
		var total float64
		for i, p := range pools {
			s := p.span()
			weights[i] = float64(s.hi)*(1<<64) + float64(s.lo) + 1
			total += weights[i]
		}
		x := float64(rnd()>>11) / (1 << 53) * total
		r = pools[len(pools)-1]
		for i, w := range weights {
			if x < w {
				r = pools[i]
				break
			}
			x -= w
		}
	}
	return offset(r, randBelow(r.span(), rnd))
}

// randBelow returns a random value in [0, span].
func randBelow(span u128, rnd func() uint64) u128 {
	v := u128{rnd(), rnd()}
	if span.hi == 0 {
		v.hi = 0
	}
	n := span.add(one)
	if n.isZero() { // the full 128-bit space
		return v
	}
	return v.mod(n)
}

func offset(r Range, off u128) netip.Addr {
	return fromU(toU(r.First).add(off), r.First.Is4())
}

// Free returns up to n addresses of pools for which taken reports false,
// walking the pools in order from a random position and wrapping around.
// It looks at no more than scan addresses, so callers bound the work on
// huge pools: scanning len(allocated)+n addresses always finds n free
// ones when they exist.
func Free(pools []Range, taken func(netip.Addr) bool, n int, scan uint64, rnd func() uint64) []netip.Addr {
	var out []netip.Addr
	if len(pools) == 0 || n <= 0 {
		return out
	}
	sorted := append([]Range(nil), pools...)
	SortPools(sorted)
	start := Random(sorted, rnd)
	idx := 0
	for i, r := range sorted {
		if r.Contains(start) {
			idx = i
		}
	}
	a := start
	var seen uint64
	for seen < scan && len(out) < n {
		if !taken(a) {
			out = append(out, a)
		}
		seen++
		if a == sorted[idx].Last {
			idx = (idx + 1) % len(sorted)
			a = sorted[idx].First
		} else {
			a = a.Next()
		}
		if a == start {
			break // wrapped around: every address seen
		}
	}
	return out
}

// EUI64 is the SLAAC address of a MAC on a /64 prefix (RFC 4291 appendix A).
func EUI64(p netip.Prefix, mac string) (netip.Addr, error) {
	if !p.Addr().Is6() || p.Bits() != 64 {
		return netip.Addr{}, fmt.Errorf("ipam: EUI-64 needs an IPv6 /64 prefix, not %s", p)
	}
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return netip.Addr{}, fmt.Errorf("ipam: '%s' is not a valid MAC address", mac)
	}
	b := p.Masked().Addr().As16()
	b[8] = hw[0] ^ 0x02
	b[9], b[10], b[11], b[12] = hw[1], hw[2], 0xff, 0xfe
	b[13], b[14], b[15] = hw[3], hw[4], hw[5]
	return netip.AddrFrom16(b), nil
}
