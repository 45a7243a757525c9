package evtx_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/ingest/evtx"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

func sample(n int) []evtxtest.Event {
	var evs []evtxtest.Event
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i := range n {
		evs = append(evs, evtxtest.Event{ID: 4625, Time: t0.Add(time.Duration(i) * time.Second), Computer: "FILE01",
			Data: [][2]string{{"TargetUserName", fmt.Sprintf("user%03d", i)}, {"IpAddress", "192.0.2.7"}, {"SubStatus", "0xc000006a"}}})
	}
	return evs
}

type result struct {
	users    []string
	problems []evtx.Problem
}

func read(t testing.TB, data []byte) result {
	t.Helper()
	r, err := evtx.NewReader(bytes.NewReader(data), evtx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var res result
	for {
		var user string
		_, err := r.Next(func(p, v []byte) {
			if string(p) == "Event.EventData.TargetUserName" {
				user = string(v)
			}
		})
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		res.users = append(res.users, user)
	}
	res.problems = r.Problems()
	return res
}

func TestRoundTripManyChunks(t *testing.T) {
	evs := sample(1500) // more than one 64 KiB chunk
	data := evtxtest.Write(evs)
	if len(data) < 4096+2*65536 {
		t.Fatalf("expected several chunks, file is %d bytes", len(data))
	}
	res := read(t, data)
	if len(res.users) != len(evs) || len(res.problems) != 0 {
		t.Fatalf("read %d of %d records, problems %v", len(res.users), len(evs), res.problems)
	}
	for i, u := range res.users {
		if want := evs[i].Data[0][1]; u != want {
			t.Fatalf("record %d: user %q, want %q", i, u, want)
		}
	}
}

func reasons(ps []evtx.Problem) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%v:%s", p.Skipped, p.Reason))
	}
	return strings.Join(s, "; ")
}

func TestDamage(t *testing.T) {
	evs := sample(50)
	good := evtxtest.Write(evs)
	recs := evtxtest.Records(good)
	cases := []struct {
		name      string
		data      []byte
		wantRecs  int
		wantSkips int
		wantWarn  string
	}{
		{"record_body_flipped", evtxtest.Corrupt(good, recs[10]+40), 49, 1, "event records checksum mismatch"},
		{"record_size_broken", evtxtest.Corrupt(good, recs[20]+4), 49, 1, "event records checksum mismatch"},
		{"chunk_header_checksum", evtxtest.Corrupt(good, 4096+0x7c), 50, 0, "chunk header checksum mismatch"},
		{"file_header_checksum", evtxtest.Corrupt(good, 0x7c), 50, 0, "file header checksum mismatch"},
		{"truncated_mid_record", good[:recs[30]+17], 30, 1, "truncated chunk"},
		{"truncated_at_chunk_end", good[:4096], 0, 0, ""},
		{"garbage_chunk_appended", append(append([]byte{}, good...), bytes.Repeat([]byte{0xAB}, 65536)...), 50, 1, "no chunk signature"},
		{"zero_chunk_appended", append(append([]byte{}, good...), make([]byte, 65536)...), 50, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := read(t, c.data)
			skips := 0
			for _, p := range res.problems {
				if p.Skipped {
					skips++
				}
			}
			if len(res.users) != c.wantRecs || skips != c.wantSkips {
				t.Errorf("records %d skipped %d, want %d and %d (problems: %s)", len(res.users), skips, c.wantRecs, c.wantSkips, reasons(res.problems))
			}
			if c.wantWarn != "" && !strings.Contains(reasons(res.problems), c.wantWarn) {
				t.Errorf("problems %q lack %q", reasons(res.problems), c.wantWarn)
			}
		})
	}
}

func TestNotEVTX(t *testing.T) {
	if _, err := evtx.NewReader(strings.NewReader("Nov 26 10:00:00 host sshd[1]: hello"), evtx.Options{}); err != evtx.ErrNotEVTX {
		t.Fatalf("err = %v, want ErrNotEVTX", err)
	}
}

// TestWantFilters checks that unwanted values are neither rendered nor
// visited.
func TestWantFilters(t *testing.T) {
	data := evtxtest.Write(sample(3))
	r, err := evtx.NewReader(bytes.NewReader(data), evtx.Options{Want: func(p string) bool { return p == "Event.System.EventID" }})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for {
		_, err := r.Next(func(p, v []byte) { paths = append(paths, string(p)+"="+string(v)) })
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(paths, ","); got != "Event.System.EventID=4625,Event.System.EventID=4625,Event.System.EventID=4625" {
		t.Fatalf("visited %s", got)
	}
}

// seedCut cuts a file after the records of its first chunk (a truncated
// chunk the reader accepts): the fuzzer mutates small inputs far faster.
func seedCut(b []byte) []byte {
	if len(b) < 4096+512 {
		return b
	}
	free := int(binary.LittleEndian.Uint32(b[4096+0x30:]))
	if free < 512 || free > 65536 {
		return b
	}
	return b[:4096+free]
}

func FuzzReader(f *testing.F) {
	f.Add(seedCut(evtxtest.Write(sample(3))))
	files, _ := filepath.Glob("../../../../shared/data/evtx/*.evtx")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(seedCut(b))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 && len(data) < 4096+512 {
			return
		}
		r, err := evtx.NewReader(bytes.NewReader(data), evtx.Options{})
		if err != nil {
			return
		}
		for range 100000 {
			if _, err := r.Next(func(p, v []byte) {}); err != nil {
				break
			}
		}
		if len(r.Problems()) > 1000 {
			t.Fatalf("problems unbounded: %d", len(r.Problems()))
		}
	})
}

// TestLayout keeps the writer's layout honest.
func TestLayout(t *testing.T) {
	data := evtxtest.Write(sample(1))
	if !evtx.IsEVTX(data) || string(data[4096:4104]) != "ElfChnk\x00" || binary.LittleEndian.Uint32(data[4096+0x30:]) <= 512 {
		t.Fatal("writer layout broken")
	}
}

// staleLastChunk is evtxtest.StaleLastChunk, failing t when it cannot.
func staleLastChunk(t *testing.T, file []byte, keep int) []byte {
	t.Helper()
	b, err := evtxtest.StaleLastChunk(file, keep)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDirtyFileReadsPastStaleHeader: a dirty file whose header counts a
// chunk too few and whose last chunk's header predates its last records
// is read to its last record, with one warning naming the chunk and the
// first record past the header; a record past it that is not numbered in
// sequence (a record torn or left from the chunk's earlier use) is counted
// and skipped with its number, and the records after it are still read.
// On the old code that record ended the chunk silently: every record
// after it was lost and nothing said so.
func TestDirtyFileReadsPastStaleHeader(t *testing.T) {
	evs := sample(1500)
	good := evtxtest.Write(evs)
	stale := staleLastChunk(t, good, 5)
	r, err := evtx.NewReader(bytes.NewReader(stale), evtx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Dirty() {
		t.Error("Dirty() = false for a dirty file")
	}
	res := read(t, stale)
	if len(res.users) != len(evs) {
		t.Fatalf("read %d of %d records (problems %s)", len(res.users), len(evs), reasons(res.problems))
	}
	lastChunk := (len(good)-4096)/65536 - 1
	if len(res.problems) != 1 || res.problems[0].Skipped || !strings.Contains(res.problems[0].String(), "past the chunk header's free space offset") ||
		!strings.Contains(res.problems[0].String(), fmt.Sprintf("chunk %d (records ", lastChunk)) {
		t.Errorf("problems %v, want one warning for the last chunk's records past its header", res.problems)
	}

	recs := evtxtest.Records(stale)
	last := 4096 + lastChunk*65536
	k := 0
	for k < len(recs) && recs[k] < last {
		k++
	}
	for _, c := range []struct {
		name string
		at   int    // the record (from the last chunk's first) renumbered
		id   uint64 // its number
	}{
		{"stale", 6, 7},             // an old number, past the header's end
		{"first-past-header", 5, 7}, // the first record past the header's end
		{"far-ahead", 8, 1 << 40},   // a number no chunk reaches
		{"repeated", 7, uint64(k + 7)},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := slices.Clone(stale)
			binary.LittleEndian.PutUint64(bad[recs[k+c.at]+8:], c.id)
			res := read(t, bad)
			if want := slices.Concat(userNames(evs[:k+c.at]), userNames(evs[k+c.at+1:])); !slices.Equal(res.users, want) {
				t.Errorf("read %d records, want %d (all but the renumbered one); problems %s", len(res.users), len(want), reasons(res.problems))
			}
			var skipped []evtx.Problem
			for _, p := range res.problems {
				if p.Skipped {
					skipped = append(skipped, p)
				}
			}
			if len(skipped) != 1 || skipped[0].Record != c.id || skipped[0].Offset != int64(recs[k+c.at]) ||
				!strings.Contains(skipped[0].Reason, "out of sequence") {
				t.Errorf("skipped %v, want record %d at offset %d out of sequence", skipped, c.id, recs[k+c.at])
			}
		})
	}
	// From record 7 past the header's end on, records of the chunk's
	// earlier use (numbered in a sequence of their own, as real logs hold
	// them past their free space): not read, and not counted as damage.
	t.Run("earlier-use", func(t *testing.T) {
		bad := slices.Clone(stale)
		for i, off := range recs[k+7:] {
			binary.LittleEndian.PutUint64(bad[off+8:], uint64(9000+i))
		}
		res := read(t, bad)
		if want := userNames(evs[:k+7]); !slices.Equal(res.users, want) {
			t.Errorf("read %d records, want %d (up to the earlier use's); problems %s", len(res.users), len(want), reasons(res.problems))
		}
		if len(res.problems) != 1 || res.problems[0].Skipped {
			t.Errorf("problems %s, want only the warning for the records past the header", reasons(res.problems))
		}
	})
}

// userNames are the TargetUserName values of evs.
func userNames(evs []evtxtest.Event) []string {
	var out []string
	for _, e := range evs {
		for _, kv := range e.Data {
			if kv[0] == "TargetUserName" {
				out = append(out, kv[1])
			}
		}
	}
	return out
}
