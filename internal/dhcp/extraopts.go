package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

// ErrBadExtraOpt reports an extra DHCP option that cannot be encoded.
var ErrBadExtraOpt = errors.New("bad extra DHCP option")

// valueKind says how an option's dnsmasq-syntax value is encoded.
type valueKind uint8

const (
	kindIPs     valueKind = iota + 1 // comma-separated IPv4 addresses
	kindIP                           // one IPv4 address
	kindString                       // text as is
	kindU8                           // unsigned 8-bit integer
	kindU16                          // unsigned 16-bit integer
	kindU32                          // unsigned 32-bit integer
	kindI32                          // signed 32-bit integer
	kindBool                         // 0/1, true/false
	kindDomains                      // comma-separated domain names, RFC 1035 labels
	kindRoutes                       // dst/len,gw[,dst/len,gw...], RFC 3442
	kindSIAddr                       // IPv4 address for the BOOTP siaddr field
)

type optSpec struct {
	code uint8
	kind valueKind
}

// siaddrCode is a pseudo option code for "server-ip-address" (the BOOTP
// next-server field, not an option); 255 (End) is never a real option.
const siaddrCode = 255

// extraOptNames maps dnsmasq option names, as Neutron's extra_dhcp_opts use
// them, to codes and encodings (dnsmasq --help dhcp).
var extraOptNames = map[string]optSpec{
	"netmask":                  {1, kindIP},
	"time-offset":              {2, kindI32},
	"router":                   {3, kindIPs},
	"dns-server":               {6, kindIPs},
	"log-server":               {7, kindIPs},
	"lpr-server":               {9, kindIPs},
	"hostname":                 {12, kindString},
	"boot-file-size":           {13, kindU16},
	"domain-name":              {15, kindString},
	"swap-server":              {16, kindIP},
	"root-path":                {17, kindString},
	"extension-path":           {18, kindString},
	"ip-forward-enable":        {19, kindBool},
	"non-local-source-routing": {20, kindBool},
	"policy-filter":            {21, kindIPs},
	"max-datagram-reassembly":  {22, kindU16},
	"default-ttl":              {23, kindU8},
	"mtu":                      {26, kindU16},
	"all-subnets-local":        {27, kindBool},
	"broadcast":                {28, kindIP},
	"router-discovery":         {31, kindBool},
	"router-solicitation":      {32, kindIP},
	"static-route":             {33, kindIPs},
	"trailer-encapsulation":    {34, kindBool},
	"arp-timeout":              {35, kindU32},
	"ethernet-encap":           {36, kindBool},
	"tcp-ttl":                  {37, kindU8},
	"tcp-keepalive":            {38, kindU32},
	"nis-domain":               {40, kindString},
	"nis-server":               {41, kindIPs},
	"ntp-server":               {42, kindIPs},
	"netbios-ns":               {44, kindIPs},
	"netbios-dd":               {45, kindIPs},
	"netbios-nodetype":         {46, kindU8},
	"netbios-scope":            {47, kindString},
	"x-windows-fs":             {48, kindIPs},
	"x-windows-dm":             {49, kindIPs},
	"lease-time":               {51, kindU32},
	"message":                  {56, kindString},
	"T1":                       {58, kindU32},
	"T2":                       {59, kindU32},
	"nis+-domain":              {64, kindString},
	"nis+-server":              {65, kindIPs},
	"tftp-server":              {66, kindString},
	"bootfile-name":            {67, kindString},
	"mobile-ip-home":           {68, kindIPs},
	"smtp-server":              {69, kindIPs},
	"pop3-server":              {70, kindIPs},
	"nntp-server":              {71, kindIPs},
	"irc-server":               {74, kindIPs},
	"domain-search":            {119, kindDomains},
	"classless-static-route":   {121, kindRoutes},
	"tftp-server-address":      {150, kindIPs},
	"server-ip-address":        {siaddrCode, kindSIAddr},
}

// extraOptCodes gives the encoding of numeric option codes with a name.
var extraOptCodes = func() map[uint8]valueKind {
	m := make(map[uint8]valueKind, len(extraOptNames)+1)
	for _, s := range extraOptNames {
		if s.code != siaddrCode {
			m[s.code] = s.kind
		}
	}
	m[249] = kindRoutes // Microsoft classless static routes
	return m
}()

// reservedCodes are protocol options the responder owns; extra options may
// not set them.
var reservedCodes = map[uint8]bool{
	0:  true, // pad
	50: true, // requested IP address
	52: true, // option overload
	53: true, // message type
	54: true, // server identifier
	55: true, // parameter request list
	57: true, // maximum message size
	61: true, // client identifier
	82: true, // relay agent information
}

// encodedOpt is one extra option ready for a reply. An empty value removes
// the option from replies. For kindSIAddr, siaddr is set instead.
type encodedOpt struct {
	code   uint8
	value  []byte
	siaddr netip.Addr
}

// ValidateExtraOpts reports, as one joined error wrapping ErrBadExtraOpt,
// the options Respond would leave out of replies. Names are dnsmasq option
// names (case-insensitive, an "option:" prefix allowed) or decimal codes
// 1-254; codes without a known encoding take a list of IPv4 addresses if the
// value parses as one, else the text. An empty value removes the option
// (an empty "router" means no gateway).
func ValidateExtraOpts(opts []ExtraOpt) error {
	var errs []error
	for _, o := range opts {
		if _, err := encodeExtraOpt(o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func encodeExtraOpt(o ExtraOpt) (encodedOpt, error) {
	bad := func(format string, args ...any) (encodedOpt, error) {
		return encodedOpt{}, fmt.Errorf("%w %q=%q: %s", ErrBadExtraOpt, o.Name, o.Value, fmt.Sprintf(format, args...))
	}
	name := strings.TrimSpace(o.Name)
	name = strings.TrimPrefix(strings.ToLower(name), "option:")
	value := strings.TrimSpace(o.Value)

	var spec optSpec
	if n, err := strconv.ParseUint(name, 10, 8); err == nil {
		spec.code = uint8(n)
		kind, ok := extraOptCodes[spec.code]
		if !ok {
			kind = kindString
			if _, err := parseIPv4List(value); err == nil {
				kind = kindIPs
			}
		}
		spec.kind = kind
	} else {
		s, ok := extraOptNames[name]
		if !ok {
			// Only T1/T2 are upper case in dnsmasq's table.
			s, ok = extraOptNames[strings.ToUpper(name)]
		}
		if !ok {
			return bad("unknown option name")
		}
		spec = s
	}
	if spec.kind != kindSIAddr && (spec.code == 255 || reservedCodes[spec.code]) {
		return bad("option %d is reserved", spec.code)
	}
	enc := encodedOpt{code: spec.code}
	if value == "" {
		return enc, nil
	}
	var err error
	enc.value, enc.siaddr, err = encodeValue(spec.kind, value)
	if err != nil {
		return bad("%v", err)
	}
	if len(enc.value) > 255 {
		return bad("value longer than 255 bytes")
	}
	return enc, nil
}

func encodeValue(kind valueKind, v string) ([]byte, netip.Addr, error) {
	var none netip.Addr
	switch kind {
	case kindIPs:
		ips, err := parseIPv4List(v)
		if err != nil {
			return nil, none, err
		}
		var b []byte
		for _, ip := range ips {
			b = append(b, ip.AsSlice()...)
		}
		return b, none, nil
	case kindIP, kindSIAddr:
		ip, err := netip.ParseAddr(v)
		if err != nil || !ip.Is4() {
			return nil, none, fmt.Errorf("%q is not an IPv4 address", v)
		}
		if kind == kindSIAddr {
			return nil, ip, nil
		}
		return ip.AsSlice(), none, nil
	case kindString:
		return []byte(v), none, nil
	case kindU8, kindU16, kindU32:
		bits := map[valueKind]int{kindU8: 8, kindU16: 16, kindU32: 32}[kind]
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return nil, none, fmt.Errorf("not a %d-bit unsigned integer: %w", bits, err)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(n))[4-bits/8:], none, nil
	case kindI32:
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, none, fmt.Errorf("not a 32-bit integer: %w", err)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(int32(n))), none, nil
	case kindBool:
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			return []byte{1}, none, nil
		case "0", "false", "no", "off":
			return []byte{0}, none, nil
		}
		return nil, none, fmt.Errorf("%q is not a boolean", v)
	case kindDomains:
		labels := rfc1035label.NewLabels()
		for _, d := range strings.Split(v, ",") {
			d = strings.TrimSuffix(strings.TrimSpace(d), ".")
			if !validDomain(d) {
				return nil, none, fmt.Errorf("%q is not a domain name", d)
			}
			labels.Labels = append(labels.Labels, d)
		}
		return labels.ToBytes(), none, nil
	case kindRoutes:
		parts := splitList(v)
		if len(parts)%2 != 0 {
			return nil, none, errors.New("routes need destination/length,gateway pairs")
		}
		var routes []Route
		for i := 0; i < len(parts); i += 2 {
			dst, err := netip.ParsePrefix(parts[i])
			if err != nil || !dst.Addr().Is4() {
				return nil, none, fmt.Errorf("%q is not an IPv4 prefix", parts[i])
			}
			gw, err := netip.ParseAddr(parts[i+1])
			if err != nil || !gw.Is4() {
				return nil, none, fmt.Errorf("%q is not an IPv4 address", parts[i+1])
			}
			routes = append(routes, Route{Dst: dst, NextHop: gw})
		}
		return encodeRoutes(routes), none, nil
	}
	return nil, none, fmt.Errorf("unknown value kind %d", kind)
}

func splitList(v string) []string {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func parseIPv4List(v string) ([]netip.Addr, error) {
	var ips []netip.Addr
	for _, p := range splitList(v) {
		ip, err := netip.ParseAddr(p)
		if err != nil || !ip.Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 address", p)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
	}
	return true
}

// encodeRoutes encodes routes as RFC 3442 option data (options 121/249).
func encodeRoutes(routes []Route) []byte {
	rs := make(dhcpv4.Routes, 0, len(routes))
	for _, r := range routes {
		p := r.Dst.Masked()
		rs = append(rs, &dhcpv4.Route{
			Dest:   &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)},
			Router: r.NextHop.AsSlice(),
		})
	}
	return rs.ToBytes()
}
