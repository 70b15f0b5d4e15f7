package affinity

// Shard maps a flow hash onto one of n shards (queues, stacks, cores),
// evenly for any n, with a multiply and a shift rather than a division.
// It returns 0 when n <= 1.
func Shard(hash uint32, n int) int {
	if n <= 1 {
		return 0
	}
	return int(uint64(hash) * uint64(n) >> 32)
}

// FlowHash hashes a flow's addresses and ports symmetrically: both
// directions of a connection get the same value, so the queue a packet
// arrives on and the queue its reply leaves on can agree. Addresses are 4
// or 16 bytes.
func FlowHash(srcAddr, dstAddr []byte, srcPort, dstPort uint16) uint32 {
	a, b := fnv(srcAddr)^uint32(srcPort), fnv(dstAddr)^uint32(dstPort)
	if a > b {
		a, b = b, a
	}
	h := a*0x9e3779b1 ^ b
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	return h
}

func fnv(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
