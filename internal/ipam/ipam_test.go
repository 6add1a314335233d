package ipam

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := ParseCIDR(s)
	if err != nil {
		t.Fatalf("ParseCIDR(%q): %v", s, err)
	}
	return p
}

func rng(seed uint64) func() uint64 {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Uint64
}

func TestParseCIDR(t *testing.T) {
	for _, s := range []string{"10.0.0.0/24", "2001:db8::/64", "10.0.0.1/32", "::/0"} {
		if _, err := ParseCIDR(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	var hb *HostBitsError
	if _, err := ParseCIDR("10.0.0.5/24"); !errors.As(err, &hb) || hb.Canonical.String() != "10.0.0.0/24" {
		t.Errorf("host bits: %v", err)
	}
	if _, err := ParseCIDR("2001:db8::1/64"); !errors.As(err, &hb) || hb.Canonical.String() != "2001:db8::/64" {
		t.Errorf("v6 host bits: %v", err)
	}
	for _, s := range []string{"", "10.0.0.0", "10.0.0.0/33", "foo/24", "::ffff:10.0.0.0/120", "fe80::%eth0/64"} {
		if _, err := ParseCIDR(s); !errors.Is(err, ErrInvalidCIDR) {
			t.Errorf("%q: want ErrInvalidCIDR, got %v", s, err)
		}
	}
}

func TestGatewayAndHosts(t *testing.T) {
	p := mustPrefix(t, "10.0.0.0/24")
	if gw, ok := DefaultGateway(p); !ok || gw.String() != "10.0.0.1" {
		t.Errorf("gateway %v %v", gw, ok)
	}
	if Last(p).String() != "10.0.0.255" {
		t.Errorf("last %v", Last(p))
	}
	if Last(mustPrefix(t, "2001:db8::/64")).String() != "2001:db8::ffff:ffff:ffff:ffff" {
		t.Errorf("v6 last")
	}
	if Last(mustPrefix(t, "::/0")).String() != "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" {
		t.Errorf("::/0 last")
	}
	if _, ok := DefaultGateway(mustPrefix(t, "10.0.0.0/31")); ok {
		t.Errorf("/31 has no default gateway")
	}
	cases := []struct {
		p, a   string
		router bool
		host   bool
		gw     bool
	}{
		{"10.0.0.0/24", "10.0.0.0", false, false, false},
		{"10.0.0.0/24", "10.0.0.255", false, false, false},
		{"10.0.0.0/24", "10.0.0.7", false, true, true},
		{"10.0.0.0/24", "10.0.1.7", false, false, false},
		{"2001:db8::/64", "2001:db8::", false, false, false},
		{"2001:db8::/64", "2001:db8::", true, true, false},
		{"2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", false, true, true},
		{"2001:db8::/64", "10.0.0.1", false, false, false},
	}
	for _, c := range cases {
		p, a := mustPrefix(t, c.p), netip.MustParseAddr(c.a)
		if got := ValidHost(p, a, c.router); got != c.host {
			t.Errorf("ValidHost(%s, %s, %v) = %v", c.p, c.a, c.router, got)
		}
		if got := ValidGateway(p, a); got != c.gw {
			t.Errorf("ValidGateway(%s, %s) = %v", c.p, c.a, got)
		}
	}
}

func TestDefaultPools(t *testing.T) {
	str := func(rs []Range) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.String())
		}
		return out
	}
	cases := []struct {
		cidr, gw string
		want     []string
	}{
		{"10.0.0.0/24", "10.0.0.1", []string{"10.0.0.2-10.0.0.254"}},
		{"10.0.0.0/24", "", []string{"10.0.0.1-10.0.0.254"}},
		{"10.0.0.0/24", "10.0.0.100", []string{"10.0.0.1-10.0.0.99", "10.0.0.101-10.0.0.254"}},
		{"10.0.0.0/24", "10.0.0.254", []string{"10.0.0.1-10.0.0.253"}},
		{"10.0.0.0/30", "10.0.0.1", []string{"10.0.0.2-10.0.0.2"}},
		{"10.0.0.0/31", "", []string{}},
		{"10.0.0.7/32", "", []string{"10.0.0.7-10.0.0.7"}},
		{"2001:db8::/64", "2001:db8::1", []string{"2001:db8::2-2001:db8::ffff:ffff:ffff:ffff"}},
		{"2001:db8::/120", "", []string{"2001:db8::1-2001:db8::ff"}},
	}
	for _, c := range cases {
		var gw netip.Addr
		if c.gw != "" {
			gw = netip.MustParseAddr(c.gw)
		}
		got := str(DefaultPools(mustPrefix(t, c.cidr), gw))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("DefaultPools(%s, %s) = %v, want %v", c.cidr, c.gw, got, c.want)
		}
	}
}

func TestValidatePools(t *testing.T) {
	p := mustPrefix(t, "10.0.0.0/24")
	gw := netip.MustParseAddr("10.0.0.1")
	r := func(a, b string) Range {
		x, err := ParseRange(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	if err := ValidatePools(p, gw, []Range{r("10.0.0.2", "10.0.0.10"), r("10.0.0.20", "10.0.0.254")}); err != nil {
		t.Errorf("valid pools: %v", err)
	}
	kind := func(err error) PoolErrorKind {
		var pe *PoolError
		if errors.As(err, &pe) {
			return pe.Kind
		}
		return 0
	}
	if err := ValidatePools(p, gw, []Range{r("10.0.0.2", "10.0.0.255")}); kind(err) != OutOfBoundsAllocationPool {
		t.Errorf("broadcast in pool: %v", err)
	}
	if err := ValidatePools(p, gw, []Range{r("10.0.1.2", "10.0.1.5")}); kind(err) != OutOfBoundsAllocationPool {
		t.Errorf("outside: %v", err)
	}
	if err := ValidatePools(p, gw, []Range{r("10.0.0.20", "10.0.0.30"), r("10.0.0.2", "10.0.0.20")}); kind(err) != OverlappingAllocationPools {
		t.Errorf("overlap: %v", err)
	} else if err.Error() != "Found overlapping allocation pools: 10.0.0.2-10.0.0.20 10.0.0.20-10.0.0.30 for subnet 10.0.0.0/24." {
		t.Errorf("overlap message: %v", err)
	}
	if err := ValidatePools(p, gw, []Range{r("10.0.0.1", "10.0.0.30")}); kind(err) != GatewayConflictWithAllocationPools {
		t.Errorf("gateway: %v", err)
	}
	if err := ValidatePools(p, netip.Addr{}, []Range{r("10.0.0.1", "10.0.0.30")}); err != nil {
		t.Errorf("no gateway: %v", err)
	}
	if _, err := ParseRange("10.0.0.9", "10.0.0.2"); !errors.Is(err, ErrInvalidPool) {
		t.Errorf("reversed: %v", err)
	}
	if _, err := ParseRange("10.0.0.2", "2001:db8::1"); !errors.Is(err, ErrInvalidPool) {
		t.Errorf("mixed: %v", err)
	}
	if err := ValidatePools(p, gw, []Range{r("2001:db8::2", "2001:db8::5")}); !errors.Is(err, ErrInvalidPool) {
		t.Errorf("wrong family: %v", err)
	}
	p6 := mustPrefix(t, "2001:db8::/64")
	if err := ValidatePools(p6, netip.Addr{}, []Range{r("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")}); err != nil {
		t.Errorf("v6 full pool: %v", err)
	}
}

func TestRandomStaysInPools(t *testing.T) {
	pools := []Range{
		{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")},
		{netip.MustParseAddr("10.0.0.200"), netip.MustParseAddr("10.0.0.254")},
	}
	r := rng(1)
	seen := map[netip.Addr]bool{}
	for i := 0; i < 5000; i++ {
		a := Random(pools, r)
		if !InPools(pools, a) {
			t.Fatalf("%v outside pools", a)
		}
		seen[a] = true
	}
	if len(seen) != 57 {
		t.Errorf("saw %d distinct addresses, want all 57", len(seen))
	}
	v6 := []Range{{netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::ffff:ffff:ffff:ffff")}}
	for i := 0; i < 1000; i++ {
		if a := Random(v6, r); !InPools(v6, a) {
			t.Fatalf("%v outside v6 pool", a)
		}
	}
	all := []Range{{netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}}
	if a := Random(all, r); !a.IsValid() {
		t.Fatal("full space")
	}
	if Random(nil, r).IsValid() {
		t.Fatal("empty pools gave an address")
	}
}

func TestFreeAndExhaustion(t *testing.T) {
	p := mustPrefix(t, "10.0.0.0/28")
	gw, _ := DefaultGateway(p)
	pools := DefaultPools(p, gw)
	if Size(pools) != 13 {
		t.Fatalf("size %d", Size(pools))
	}
	taken := map[netip.Addr]bool{}
	r := rng(2)
	for i := 0; i < 13; i++ {
		free := Free(pools, func(a netip.Addr) bool { return taken[a] }, 1, uint64(len(taken))+1, r)
		if len(free) != 1 {
			t.Fatalf("step %d: no free address with %d taken", i, len(taken))
		}
		if taken[free[0]] || !InPools(pools, free[0]) {
			t.Fatalf("bad candidate %v", free[0])
		}
		taken[free[0]] = true
	}
	if free := Free(pools, func(a netip.Addr) bool { return taken[a] }, 1, 1000, r); len(free) != 0 {
		t.Fatalf("exhausted pool gave %v", free)
	}
	// Several at once, no duplicates even when the walk wraps.
	got := Free(pools, func(netip.Addr) bool { return false }, 100, 1000, r)
	if len(got) != 13 {
		t.Fatalf("got %d of 13", len(got))
	}
	uniq := map[netip.Addr]bool{}
	for _, a := range got {
		uniq[a] = true
	}
	if len(uniq) != 13 {
		t.Fatalf("duplicates in %v", got)
	}
	// IPv6: huge pool, scan bound respected.
	p6 := mustPrefix(t, "2001:db8::/64")
	gw6, _ := DefaultGateway(p6)
	got = Free(DefaultPools(p6, gw6), func(netip.Addr) bool { return false }, 4, 4, r)
	if len(got) != 4 {
		t.Fatalf("v6 free: %v", got)
	}
}

func TestEUI64(t *testing.T) {
	a, err := EUI64(mustPrefix(t, "2001:db8::/64"), "fa:16:3e:11:22:33")
	if err != nil || a.String() != "2001:db8::f816:3eff:fe11:2233" {
		t.Fatalf("EUI64 = %v, %v", a, err)
	}
	if _, err := EUI64(mustPrefix(t, "2001:db8::/80"), "fa:16:3e:11:22:33"); err == nil {
		t.Fatal("EUI64 on a /80")
	}
}

func TestMAC(t *testing.T) {
	if m, err := ParseMAC("AA:BB:CC:DD:EE:FF"); err != nil || m != "aa:bb:cc:dd:ee:ff" {
		t.Errorf("ParseMAC: %v %v", m, err)
	}
	for _, bad := range []string{"", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "aa:bb:cc:dd:ee", "zz:bb:cc:dd:ee:ff"} {
		if _, err := ParseMAC(bad); err == nil {
			t.Errorf("ParseMAC(%q) accepted", bad)
		}
	}
	b, err := ParseBaseMAC("fa:16:3e")
	if err != nil {
		t.Fatal(err)
	}
	r := rng(3)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		m := b.Random(r)
		if m[:9] != "fa:16:3e:" {
			t.Fatalf("mac %s", m)
		}
		if _, err := ParseMAC(m); err != nil {
			t.Fatal(err)
		}
		seen[m] = true
	}
	if len(seen) < 990 {
		t.Errorf("only %d distinct MACs", len(seen))
	}
	b4, err := ParseBaseMAC("fa:16:3e:4f:00:00")
	if err != nil || b4.Random(r)[:12] != "fa:16:3e:4f:" {
		t.Errorf("fixed fourth octet: %v", err)
	}
	for _, bad := range []string{"fa:16", "01:16:3e", "fa:16:zz"} {
		if _, err := ParseBaseMAC(bad); err == nil {
			t.Errorf("ParseBaseMAC(%q) accepted", bad)
		}
	}
}

func TestU128Mod(t *testing.T) {
	r := rng(4)
	for i := 0; i < 1000; i++ {
		u := u128{r(), r()}
		n := u128{r() >> (r() % 64), r()}
		if n.isZero() {
			continue
		}
		m := u.mod(n)
		if m.cmp(n) >= 0 {
			t.Fatalf("%v mod %v = %v", u, n, m)
		}
	}
	if got := (u128{0, 100}).mod(u128{0, 7}); got.lo != 2 {
		t.Fatalf("100 mod 7 = %v", got)
	}
	if got := (u128{1, 0}).mod(u128{0, 3}); got.lo != 1 { // 2^64 mod 3
		t.Fatalf("2^64 mod 3 = %v", got)
	}
}
