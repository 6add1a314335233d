package logical

import "github.com/wyvern-sdn/wyvern/internal/model"

// Keys hands out the datapath keys a view needs and keeps them stable
// across builds, or every recompilation would rewrite flows for nothing.
// The zero value is not usable: use NewKeys. Only one goroutine may use a
// Keys.
type Keys struct {
	remote     map[string]uint32
	nextRemote uint32
	flat       map[string]uint32
	nextFlat   uint32
	routers    map[string]uint32
	groups     map[string]uint16
}

// Key ranges. Tunnelled and VLAN networks take their key from their type
// and segmentation id (stable across restarts), flat networks one from
// flatKeyBase up; local ports use their OpenFlow port number, remote ports
// a key from remoteKeyBase up.
const (
	geneveKeyTag  = 0 << 24
	vxlanKeyTag   = 1 << 24
	vlanKeyTag    = 2 << 24
	flatKeyBase   = 3 << 24
	remoteKeyBase = 1 << 20
)

// NewKeys returns an empty key allocator.
func NewKeys() *Keys {
	return &Keys{remote: map[string]uint32{}, nextRemote: remoteKeyBase, flat: map[string]uint32{}, nextFlat: flatKeyBase,
		routers: map[string]uint32{}, groups: map[string]uint16{}}
}

// Network is a network's datapath key: its segmentation id tagged with
// its type, so keys survive restarts; a flat network gets the next free
// key of its own range.
func (k *Keys) Network(n *model.Network) uint32 {
	switch n.NetworkType {
	case "geneve":
		return geneveKeyTag | uint32(n.SegmentationID)
	case "vxlan":
		return vxlanKeyTag | uint32(n.SegmentationID)
	case "vlan":
		return vlanKeyTag | uint32(n.SegmentationID)
	}
	key, ok := k.flat[n.ID]
	if !ok {
		k.nextFlat++
		key = k.nextFlat
		k.flat[n.ID] = key
	}
	return key
}

// RemotePort is the key of a port not bound here.
func (k *Keys) RemotePort(id string) uint32 {
	key, ok := k.remote[id]
	if !ok {
		k.nextRemote++
		key = k.nextRemote
		k.remote[id] = key
	}
	return key
}

// keepRemote forgets the remote port keys not in seen.
func (k *Keys) keepRemote(seen map[string]bool) {
	for id := range k.remote {
		if !seen[id] {
			delete(k.remote, id)
		}
	}
}

// Router is a router's datapath key.
func (k *Keys) Router(id string) uint32 {
	key, ok := k.routers[id]
	if !ok {
		key = uint32(len(k.routers) + 1)
		k.routers[id] = key
	}
	return key
}

// SecurityGroup is a group's key in conjunction ids (below 0x8000).
func (k *Keys) SecurityGroup(id string) uint16 {
	key, ok := k.groups[id]
	if !ok {
		key = uint16(len(k.groups)+1) & 0x7fff
		k.groups[id] = key
	}
	return key
}
