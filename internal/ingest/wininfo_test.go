package ingest

import (
	"strconv"
	"testing"
)

// TestWinInfosCoverShapes: every id the Windows parser parses has its
// entry in the per-id table finish and program read, and no other id has.
func TestWinInfosCoverShapes(t *testing.T) {
	for id, sh := range winShapes {
		info := winInfoOf(id)
		if info == nil || info.shape != sh || info.code != strconv.Itoa(id) || string(info.prog) != "Security "+strconv.Itoa(id) {
			t.Errorf("id %d: table entry %+v", id, info)
		}
	}
	for id := winIDMin - 10; id < winIDMin+winIDSpan+10; id++ {
		if _, ok := winShapes[id]; !ok && winInfoOf(id) != nil {
			t.Errorf("id %d is not parsed but has a table entry", id)
		}
	}
}
