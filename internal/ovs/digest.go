package ovs

import (
	"hash/maphash"

	"github.com/wyvern-sdn/wyvern/internal/ofp"
)

// Digest identifies a flow by hashes of its OpenFlow encoding, so that
// flows can be indexed and compared without rendering them as text. Key
// covers what makes an OpenFlow entry (table, priority, match, whatever
// the order of the match fields); Full covers the whole flow (also cookie
// and instructions). Both are 128 bits: the chance that two of a million
// flows collide is below 10^-26.
type Digest struct {
	Key, Full [2]uint64
}

// digestSeeds are the process' hash seeds: digests are compared within one
// process, never stored.
var digestSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func hash128(b []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(digestSeeds[0], b), maphash.Bytes(digestSeeds[1], b)}
}

// FlowDigest returns f's digest. buf is scratch space, returned grown for
// the next call; the error is the one encoding f for the switch would give.
func FlowDigest(buf []byte, f ofp.Flow) (Digest, []byte, error) {
	b := append(buf[:0], f.Table)
	b = be.AppendUint16(b, f.Priority)
	b, err := AppendMatch(b, f.Match)
	if err != nil {
		return Digest{}, buf, err
	}
	var d Digest
	d.Key = hash128(b)
	b = be.AppendUint64(b, f.Cookie)
	if b, err = appendInstructions(b, f.Actions); err != nil {
		return Digest{}, buf, err
	}
	d.Full = hash128(b)
	return d, b, nil
}
