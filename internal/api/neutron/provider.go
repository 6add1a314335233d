package neutron

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wyvern-sdn/wyvern/internal/store"
)

// Provider networks: VLAN ranges by physical network, as ML2's
// network_vlan_ranges (ml2_type_vlan), and flat networks, one per physical
// network (ml2_type_flat).

// VLANRanges maps a physical network to the VLAN id ranges its vlan
// networks take their id from when none is given. A physical network
// listed without a range takes vlan networks with an explicit id only
// (any in 1..4094); an unlisted one takes none.
type VLANRanges map[string][][2]int

// ParseVLANRanges parses Neutron's network_vlan_ranges:
// "physnet1:100:199,physnet1:300:309,physnet2" (a physical network without
// a range takes vlan networks with an explicit id only).
func ParseVLANRanges(s string) (VLANRanges, error) {
	out := VLANRanges{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		phys := parts[0]
		if phys == "" {
			return nil, fmt.Errorf("%q: no physical network", item)
		}
		switch len(parts) {
		case 1:
			if _, ok := out[phys]; !ok {
				out[phys] = nil
			}
		case 3:
			lo, err1 := strconv.Atoi(parts[1])
			hi, err2 := strconv.Atoi(parts[2])
			if err1 != nil || err2 != nil || lo < 1 || hi > 4094 || lo > hi {
				return nil, fmt.Errorf("%q: want physnet:min:max with 1 <= min <= max <= 4094", item)
			}
			out[phys] = append(out[phys], [2]int{lo, hi})
		default:
			return nil, fmt.Errorf("%q: want physnet or physnet:min:max", item)
		}
	}
	return out, nil
}

// String renders the ranges in the flag's form, physical networks sorted.
func (r VLANRanges) String() string {
	var parts []string
	for _, phys := range r.physnets() {
		if len(r[phys]) == 0 {
			parts = append(parts, phys)
		}
		for _, rg := range r[phys] {
			parts = append(parts, fmt.Sprintf("%s:%d:%d", phys, rg[0], rg[1]))
		}
	}
	return strings.Join(parts, ",")
}

func (r VLANRanges) physnets() []string {
	out := make([]string, 0, len(r))
	for p := range r {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (r VLANRanges) contains(phys string, id int) bool {
	for _, rg := range r[phys] {
		if id >= rg[0] && id <= rg[1] {
			return true
		}
	}
	return false
}

// allocateVLAN reserves the VLAN of a vlan network: the requested id on
// phys, or a free one of phys' ranges (of any physical network's, in
// name order, when phys is empty). Without configured ranges
// (Config.VLANRanges nil) any physical network takes any id of
// Config.VLANRange. It returns the physical network and the id.
func (s *Server) allocateVLAN(tx *store.Tx, phys string, want int, requested bool) (string, int, error) {
	ranges := s.cfg.VLANRanges
	if ranges == nil {
		if phys == "" {
			return "", 0, InvalidInput("provider:physical_network required for VLAN provider network")
		}
		id, err := s.allocateSegment(tx, "vlan", want, requested, phys)
		return phys, id, err
	}
	if phys != "" {
		if _, ok := ranges[phys]; !ok {
			return "", 0, InvalidInput("physical_network '%s' unknown for VLAN provider network (configured: %s)", phys, ranges)
		}
	}
	if requested {
		if phys == "" {
			return "", 0, InvalidInput("provider:physical_network required with provider:segmentation_id for a VLAN provider network")
		}
		if want < 1 || want > 4094 {
			return "", 0, InvalidInput("provider:segmentation_id %d out of range for vlan (1..4094)", want)
		}
		if len(ranges[phys]) > 0 && !ranges.contains(phys, want) {
			return "", 0, InvalidInput("provider:segmentation_id %d is outside the VLAN ranges of physical network %s (%s)",
				want, phys, VLANRanges{phys: ranges[phys]})
		}
		if tx.Exists(segmentKey("vlan", phys, want)) {
			return "", 0, Conflict("VlanIdInUse", "Unable to create the network. The VLAN %d on physical network %s is in use.", want, phys)
		}
		return phys, want, nil
	}
	physnets := []string{phys}
	if phys == "" {
		physnets = ranges.physnets()
	}
	for _, p := range physnets {
		if id, ok := freeVLAN(tx, p, ranges[p]); ok {
			return p, id, nil
		}
	}
	if phys != "" && len(ranges[phys]) == 0 {
		return "", 0, InvalidInput("physical_network %s has no VLAN range to allocate from: give provider:segmentation_id", phys)
	}
	return "", 0, Conflict("NoNetworkAvailable", "Unable to create the network. No tenant network is available for allocation.")
}

// freeVLAN finds a free id in the ranges: random candidates, read in
// batches (one round trip each, every candidate joining the transaction's
// read set), so that concurrent creates rarely fight over one id; a range
// of up to vlanProbe ids is searched whole.
func freeVLAN(tx *store.Tx, phys string, ranges [][2]int) (int, bool) {
	var ids []int
	for _, rg := range ranges {
		for id := rg[0]; id <= rg[1]; id++ {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ids = ids[:min(len(ids), vlanProbe)]
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 32)]
		ids = ids[len(batch):]
		keys := make([]string, len(batch))
		for i, id := range batch {
			keys[i] = segmentKey("vlan", phys, id)
		}
		tx.Prefetch(keys...)
		for i, id := range batch {
			if !tx.Exists(keys[i]) {
				return id, true
			}
		}
	}
	return 0, false
}

// vlanProbe bounds the ids one allocation reads.
const vlanProbe = 128
