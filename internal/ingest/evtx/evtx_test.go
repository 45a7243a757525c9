package evtx_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
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

// staleLastChunk makes file look like a copy of a log in use: the file
// header is dirty and counts one chunk fewer, and the last chunk's header
// (consistent with its checksums) still ends before record keep of that
// chunk, as the service had last written it.
func staleLastChunk(t *testing.T, file []byte, keep int) []byte {
	t.Helper()
	le := binary.LittleEndian
	b := append([]byte{}, file...)
	last := 4096 + (len(b)-4096)/65536*65536 - 65536
	var in []int
	for _, off := range evtxtest.Records(b) {
		if off >= last && off < last+65536 {
			in = append(in, off)
		}
	}
	if keep <= 0 || keep >= len(in) {
		t.Fatalf("last chunk has %d records, cannot keep %d", len(in), keep)
	}
	c := b[last : last+65536]
	free := in[keep] - last
	lastID := le.Uint64(c[in[keep-1]-last+8:])
	le.PutUint64(c[0x10:], lastID)
	le.PutUint64(c[0x20:], lastID)
	le.PutUint32(c[0x2c:], uint32(in[keep-1]-last))
	le.PutUint32(c[0x30:], uint32(free))
	le.PutUint32(c[0x34:], crc32.ChecksumIEEE(c[512:free]))
	h := crc32.ChecksumIEEE(c[:0x78])
	le.PutUint32(c[0x7c:], crc32.Update(h, crc32.IEEETable, c[0x80:512]))
	le.PutUint16(b[42:], le.Uint16(b[42:])-1)
	le.PutUint32(b[0x78:], le.Uint32(b[0x78:])|1)
	le.PutUint32(b[0x7c:], crc32.ChecksumIEEE(b[:0x78]))
	return b
}

// TestDirtyFileReadsPastStaleHeader: a dirty file whose header counts a
// chunk too few and whose last chunk's header predates its last records
// is read to its last record, with one warning naming the chunk and the
// first record past the header; a record past it that is not next in
// sequence (a stale record of the chunk's earlier use) ends the chunk.
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
	if len(res.problems) != 1 || res.problems[0].Skipped || !strings.Contains(res.problems[0].String(), "past the chunk header's free space offset") ||
		!strings.Contains(res.problems[0].String(), fmt.Sprintf("chunk %d (records ", (len(good)-4096)/65536-1)) {
		t.Errorf("problems %v, want one warning for the last chunk's records past its header", res.problems)
	}

	// the record after the header's end numbered out of sequence: not read
	recs := evtxtest.Records(stale)
	last := 4096 + (len(good)-4096)/65536*65536 - 65536
	k := 0
	for k < len(recs) && recs[k] < last {
		k++
	}
	binary.LittleEndian.PutUint64(stale[recs[k+5]+8:], 7)
	res = read(t, stale)
	if len(res.users) != k+5 || len(res.problems) != 0 {
		t.Errorf("out of sequence: read %d records, want %d; problems %s", len(res.users), k+5, reasons(res.problems))
	}
}
