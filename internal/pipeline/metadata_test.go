package pipeline

import (
	"net/netip"
	"testing"
)

func TestMetadataSource(t *testing.T) {
	for _, k := range []uint32{1, 255, 256, 126<<8 - 1} {
		a, ok := MetadataSource(k)
		if !ok || !MetadataSources.Contains(a) || a == MetadataIP {
			t.Fatalf("key %d: %v %v", k, a, ok)
		}
		if back, ok := MetadataKey(a); !ok || back != k {
			t.Fatalf("key %d → %v → %d %v", k, a, back, ok)
		}
	}
	for _, k := range []uint32{0, 126 << 8} {
		if a, ok := MetadataSource(k); ok {
			t.Errorf("key %d has a source %v", k, a)
		}
	}
	for _, a := range []string{"169.254.169.254", "10.0.0.1", "169.254.1.0", "169.254.0.5", "169.254.127.1", "fe80::1"} {
		if k, ok := MetadataKey(netip.MustParseAddr(a)); ok {
			t.Errorf("%s names port %d", a, k)
		}
	}
}

func TestMetadataSource6(t *testing.T) {
	for _, k := range []uint32{1, 0xfffe, 0xffffffff} {
		a, ok := MetadataSource6(k)
		if !ok || !MetadataSources6.Contains(a) {
			t.Fatalf("key %d: %v %v", k, a, ok)
		}
		if back, ok := MetadataKey6(a); !ok || back != k {
			t.Fatalf("key %d → %v → %d %v", k, a, back, ok)
		}
	}
	for _, a := range []string{"fe80::a9fe:a9fe", "fd57:7976:6d65::", "fd57:7976:6d65:0:1::1", "169.254.1.1", "2001:db8::1"} {
		if k, ok := MetadataKey6(netip.MustParseAddr(a)); ok {
			t.Errorf("%s names port %d", a, k)
		}
	}
}
