package scrape

// slotTable is the series cache's index: it maps a line's hash to the slot
// of its entry, by open addressing with linear probing over a power-of-two
// array of slot numbers, the hashes themselves read from the entries. It
// costs 4 bytes per array element, 5.3 to 10.7 per entry (a Go map of
// uint64 to int32 costs about 23). The hashes are seeded at random, so a
// target cannot make its lines probe long chains.
type slotTable struct {
	// slots holds slot+1 of an entry, 0 for an empty element and
	// tombstone for a removed one.
	slots []int32
	used  int // elements not empty (entries and tombstones)
	n     int // entries
}

// tombstone marks a removed element, which lookups pass over.
const tombstone = -1

// minTable is the smallest array a table allocates.
const minTable = 16

// tableSize returns the array size for n entries: a power of two at most
// three quarters full.
func tableSize(n int) int {
	size := minTable
	for size*3 < n*4 {
		size *= 2
	}
	return size
}

// tableGet returns the slot of the entry with hash h in the index, or -1.
func (c *seriesCache) tableGet(h uint64) int32 {
	t := &c.index
	if len(t.slots) == 0 {
		return -1
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := t.slots[i]
		if v == 0 {
			return -1
		}
		if v > 0 && c.entry(v-1).hash == h {
			return v - 1
		}
	}
}

// tablePut adds slot idx, whose entry has hash h, to the index, which has
// no entry of that hash.
func (c *seriesCache) tablePut(h uint64, idx int32) {
	t := &c.index
	if (t.used+1)*4 > len(t.slots)*3 {
		c.tableResize(tableSize(2 * (t.n + 1)))
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if v := t.slots[i]; v <= 0 {
			if v == 0 {
				t.used++
			}
			t.slots[i] = idx + 1
			t.n++
			return
		}
	}
}

// tableResize moves the index's entries to an array of size elements,
// dropping the tombstones.
func (c *seriesCache) tableResize(size int) {
	t := &c.index
	old := t.slots
	t.slots, t.used, t.n = make([]int32, size), 0, 0
	mask := uint64(size - 1)
	for _, v := range old {
		if v <= 0 {
			continue
		}
		for i := c.entry(v-1).hash & mask; ; i = (i + 1) & mask {
			if t.slots[i] == 0 {
				t.slots[i] = v
				break
			}
		}
		t.used++
		t.n++
	}
}

// tableForget removes from the index the entries not seen in this or the
// previous scrape and frees their slots.
func (c *seriesCache) tableForget() {
	t := &c.index
	for i, v := range t.slots {
		if v > 0 && c.iter-c.entry(v-1).lastIter >= 2 {
			t.slots[i] = tombstone
			t.n--
			c.freeSlot(v - 1)
			c.live--
		}
	}
	if t.used-t.n > len(t.slots)/4 {
		c.tableResize(tableSize(2 * t.n))
	}
}

// tableClear empties the index, keeping its array.
func (c *seriesCache) tableClear() {
	clear(c.index.slots)
	c.index.used, c.index.n = 0, 0
}
