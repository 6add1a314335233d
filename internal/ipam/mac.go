package ipam

import (
	"fmt"
	"net"
	"strings"
)

// ParseMAC validates a port MAC and returns it in Neutron's form (lower
// case, colon separated). It refuses the all-zero address and group
// (multicast, broadcast) addresses, which no port may own.
func ParseMAC(s string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("'%s' is not a valid MAC address", s)
	}
	if hw[0]&1 == 1 || (hw[0]|hw[1]|hw[2]|hw[3]|hw[4]|hw[5]) == 0 {
		return "", fmt.Errorf("'%s' is not a valid MAC address", s)
	}
	return hw.String(), nil
}

// BaseMAC is the fixed part of allocated MACs, as Neutron's base_mac: the
// first three octets always, the fourth when it is not zero.
type BaseMAC struct {
	octets [4]byte
	fixed  int // 3 or 4
}

// ParseBaseMAC parses "fa:16:3e" or "fa:16:3e:00:00:00" (or with a
// non-zero fourth octet, which then is fixed too).
func ParseBaseMAC(s string) (BaseMAC, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 && len(parts) != 6 {
		return BaseMAC{}, fmt.Errorf("ipam: base MAC %q: want 3 or 6 octets", s)
	}
	var b BaseMAC
	b.fixed = 3
	for i, p := range parts {
		var v byte
		if len(p) != 2 {
			return BaseMAC{}, fmt.Errorf("ipam: base MAC %q: bad octet %q", s, p)
		}
		if _, err := fmt.Sscanf(p, "%02x", &v); err != nil {
			return BaseMAC{}, fmt.Errorf("ipam: base MAC %q: bad octet %q", s, p)
		}
		if i < 4 {
			b.octets[i] = v
		}
	}
	if b.octets[0]&1 == 1 {
		return BaseMAC{}, fmt.Errorf("ipam: base MAC %q is a group address", s)
	}
	if len(parts) == 6 && b.octets[3] != 0 {
		b.fixed = 4
	}
	return b, nil
}

// Random returns a MAC with b's fixed octets and random others.
func (b BaseMAC) Random(rnd func() uint64) string {
	r := rnd()
	mac := net.HardwareAddr{b.octets[0], b.octets[1], b.octets[2], byte(r), byte(r >> 8), byte(r >> 16)}
	if b.fixed == 4 {
		mac[3] = b.octets[3]
	}
	return mac.String()
}
