package ops

import (
	"hash"
	"hash/fnv"
)

type hashWriter interface{ WriteHash(hash.Hash) }

// hashOf is the Hashcode of an op: FNV-32a over what WriteHash writes,
// so that equal parameters give equal codes and different ones differ.
func hashOf(op hashWriter) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
