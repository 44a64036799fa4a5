package ivm

// Hash returns the hash of a result with the given generation, as
// View.Hash does for its own result.
func Hash(rows []Row, generation uint64) string {
	var sum uint64
	for _, r := range rows {
		sum += rowHash(r.ID, r.Version)
	}
	return formatHash(sum, generation)
}

// rowHash hashes a row's id and version: FNV-1a of the id, mixed with the
// version. A view keeps the sum of its rows' hashes, which a change updates
// in O(1) and which does not depend on the order of the rows.
func rowHash(id string, version int64) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	return mix(h ^ mix(uint64(version)))
}

// formatHash writes the hash of a view as 16 hex digits.
func formatHash(sum, generation uint64) string {
	const digits = "0123456789abcdef"
	h := mix(sum ^ mix(generation+1))
	var b [16]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[h&15]
		h >>= 4
	}
	return string(b[:])
}

// mix is the finalizer of SplitMix64: it spreads every input bit over the
// output, so that sums of hashes do not cancel out in simple patterns.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
