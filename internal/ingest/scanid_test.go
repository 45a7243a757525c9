package ingest

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

// scanEventIDRef is scanEventID as first written: every key of the record
// in turn, named from the quote before its `":`.
func scanEventIDRef(rec []byte) int {
	id := 0
	for i := 0; i < len(rec); {
		j := bytes.Index(rec[i:], []byte(`":`))
		if j < 0 {
			break
		}
		end := i + j // the key's closing quote
		start := bytes.LastIndexByte(rec[i:end], '"')
		name := rec[i+start+1 : end]
		i = end + 2
		if start < 0 {
			continue
		}
		switch string(name) {
		case "event_id", "EventID", "EventId", "Id", "code":
		default:
			continue
		}
		v := rec[i:]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		quoted := len(v) > 0 && v[0] == '"'
		if quoted {
			v = v[1:]
		}
		n, k := 0, 0
		for k < len(v) && k < 6 && v[k] >= '0' && v[k] <= '9' {
			n = n*10 + int(v[k]-'0')
			k++
		}
		if k == 0 || k == len(v) || (quoted && v[k] != '"') || (!quoted && v[k] >= '0' && v[k] <= '9') {
			return 0
		}
		if id != 0 && n != id {
			return 0
		}
		id = n
	}
	return id
}

// TestScanEventIDAgrees: the colon-driven scanEventID finds the id the
// key-by-key form does, on the generated Windows day, the JSON testdata
// and records built to trip it.
func TestScanEventIDAgrees(t *testing.T) {
	var gen bytes.Buffer
	if _, err := loggen.Generate(&gen, loggen.Options{Format: loggen.FormatWindows, Lines: 5000, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	recs := strings.Split(gen.String(), "\n")
	for _, f := range []string{"winlogbeat.ndjson", "nxlog.ndjson", "getwinevent.json"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, strings.Split(string(b), "\n")...)
	}
	recs = append(recs, scanEventIDCases...)
	found := 0
	for _, r := range recs {
		got, want := scanEventID([]byte(r)), scanEventIDRef([]byte(r))
		if got != want {
			t.Errorf("scanEventID(%q) = %d, key by key %d", r, got, want)
		}
		if got != 0 {
			found++
		}
		// giving up at a wanted first id skips exactly the records the
		// full scan would
		for _, w := range []func(int) bool{func(id int) bool { return id%2 == 0 }, func(id int) bool { return id == 4624 || id == 4625 }} {
			u := scanEventIDUnless([]byte(r), w)
			if skipU, skip := u != 0 && !w(u), want != 0 && !w(want); skipU != skip || skipU && u != want {
				t.Errorf("scanEventIDUnless(%q) = %d, full scan %d", r, u, want)
			}
		}
	}
	if found < 5000 {
		t.Errorf("only %d records with an id", found)
	}
}

var scanEventIDCases = []string{
	`{"EventID":4625,"Id":"4625"}`, `{"EventID":4625,"Id":"4624"}`, `{"code": "4771"}`, `{"code":"47a1"}`,
	`{"EventId":4624}`, `{"event_id":{"x":1}}`, `{"Message":"a \"code\":1 b","EventID":4624}`, `{"xId":4624}`,
	`{"Id":`, `{"Id":1234567}`, `":":"Id":4624`, `{"a":"b:c","event_id":"4768"}`, `"Id":4624`, `{"d":"","Id":4625}`,
	`{"unicode":1,"EventID":4625}`, `{"ID":4625}`, `{"id":4625}`, `{"Eventid":4625}`, `{"Id" :4625}`,
}

// FuzzScanEventID: the colon-driven and key-by-key scans agree on any input.
func FuzzScanEventID(f *testing.F) {
	for _, c := range scanEventIDCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		want := scanEventIDRef(rec)
		if got := scanEventID(rec); got != want {
			t.Fatalf("scanEventID = %d, key by key %d", got, want)
		}
		// skip decisions agree: skipped (id, not wanted) exactly when the
		// full scan finds an id that is not wanted
		w := func(id int) bool { return id%3 == 0 }
		u := scanEventIDUnless(rec, w)
		if skipU, skip := u != 0 && !w(u), want != 0 && !w(want); skipU != skip || skipU && u != want {
			t.Fatalf("scanEventIDUnless = %d, full scan %d", u, want)
		}
	})
}
