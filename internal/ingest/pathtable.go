package ingest

import (
	"encoding/binary"
	"math/bits"
)

// pathTable maps the JSON paths a parser looks for to small ids: one hash
// of the whole path and usually one comparison, instead of a chain of
// string comparisons per scalar. The table is fixed once built, so input
// cannot lengthen its probe sequences.
type pathTable struct {
	keys  []string
	ids   []int32
	shift uint8
}

// newPathTable builds a table; the first of duplicate paths wins.
func newPathTable(paths map[string]int) *pathTable {
	size := 16
	for size < 4*len(paths) {
		size *= 2
	}
	t := &pathTable{keys: make([]string, size), ids: make([]int32, size), shift: uint8(64 - bits.TrailingZeros(uint(size)))}
	for k, id := range paths {
		t.add(k, id)
	}
	return t
}

func (t *pathTable) add(k string, id int) {
	mask := len(t.keys) - 1
	for i := t.slot([]byte(k)); ; i = (i + 1) & mask {
		if t.keys[i] == "" {
			t.keys[i], t.ids[i] = k, int32(id)
			return
		}
		if t.keys[i] == k {
			return
		}
	}
}

func (t *pathTable) slot(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return int(cacheHash(b) << 32 >> t.shift)
}

// lookup returns the id of path, or -1.
func (t *pathTable) lookup(path []byte) int {
	mask := len(t.keys) - 1
	for i := t.slot(path); ; i = (i + 1) & mask {
		k := t.keys[i]
		if k == "" {
			return -1
		}
		if k == string(path) {
			return int(t.ids[i])
		}
	}
}

// strCache interns strings per field slot in front of an interner: each
// slot has a small direct-mapped cache of the strings it handed out, so a
// field with few distinct values (hosts, domains, logon types, status
// codes, most user names) costs a cheap hash and one comparison, and only
// misses reach the interner's map. Colliding values just replace each other,
// so crafted input cannot make a lookup slower than a miss.
type strCache struct {
	ways     []string // slots × strCacheWays
	strs     *interner
	noIntern []bool // slots whose values are too varied for the interner
}

const strCacheWays = 256

func newStrCache(slots int, strs *interner) *strCache {
	return &strCache{ways: make([]string, slots*strCacheWays), strs: strs}
}

func (c *strCache) get(slot int, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	i := slot*strCacheWays + int(cacheHash(b)&(strCacheWays-1))
	if s := c.ways[i]; len(s) == len(b) && s == string(b) {
		return s
	}
	var s string
	if c.strs != nil && (c.noIntern == nil || !c.noIntern[slot]) {
		s = c.strs.get(b)
	} else {
		s = string(b)
	}
	c.ways[i] = s
	return s
}

// cacheHash is a cheap hash of the length and up to the first and last
// eight bytes.
func cacheHash(b []byte) uint64 {
	n := len(b)
	var h uint64
	switch {
	case n >= 8:
		h = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 29)
	case n >= 4:
		h = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	default:
		h = uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
	}
	h = (h ^ uint64(n)<<56) * 0x9e3779b97f4a7c15
	return h >> 32
}
