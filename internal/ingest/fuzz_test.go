package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
	"github.com/google/go-cmp/cmp"
)

// seedLines adds every line of the testdata files as a fuzz seed.
func seedLines(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
	}
}

// drain reads everything and checks the invariants every reader keeps.
func drain(t *testing.T, data []byte, opts Options) {
	r, err := NewReader("fuzz", bytes.NewReader(data), opts)
	if err != nil {
		return
	}
	var ev event.Event
	for n := 0; ; n++ {
		err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if ev.Timestamp.IsZero() && ev.Dataset != datasetGeneric {
			t.Fatalf("event without timestamp: %+v", ev)
		}
		if ev.Count < 0 {
			t.Fatalf("negative count")
		}
		if n > len(data)+1 {
			t.Fatalf("more events than bytes")
		}
	}
	st := r.Stats()
	if st.Parsed+st.Ignored+st.Unparsed != st.Lines {
		t.Fatalf("stats do not add up: %+v", st)
	}
}

func FuzzSyslog(f *testing.F) {
	seedLines(f, "auth.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		drain(t, data, Options{Format: FormatSyslog, Year: 2026, MaxLineBytes: 4096})
		var ev event.Event
		ParseSyslogMessage(data, &ev, Options{Year: 2026})
	})
}

func FuzzJournald(f *testing.F) {
	seedLines(f, "journald.ndjson")
	f.Fuzz(func(t *testing.T, data []byte) { drain(t, data, Options{Format: FormatJournald, MaxLineBytes: 4096}) })
}

func FuzzWindows(f *testing.F) {
	seedLines(f, "winlogbeat.ndjson", "nxlog.ndjson", "getwinevent.json")
	f.Fuzz(func(t *testing.T, data []byte) { drain(t, data, Options{Format: FormatWindows, MaxLineBytes: 8192}) })
}

func FuzzEntra(f *testing.F) {
	seedLines(f, "graph_signins.json", "azuremonitor_signins.ndjson")
	f.Fuzz(func(t *testing.T, data []byte) { drain(t, data, Options{Format: FormatEntra, MaxLineBytes: 8192}) })
}

func FuzzOkta(f *testing.F) {
	seedLines(f, "okta.json")
	f.Fuzz(func(t *testing.T, data []byte) { drain(t, data, Options{Format: FormatOkta, MaxLineBytes: 8192}) })
}

func FuzzGeneric(f *testing.F) {
	seedLines(f, "rmm.ndjson")
	m, err := LoadMapping("testdata/rmm-mapping.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		drain(t, data, Options{Format: FormatGeneric, Mapping: m, MaxLineBytes: 4096})
	})
}

// FuzzSniff runs format detection and whichever parser it picks.
func FuzzSniff(f *testing.F) {
	seedLines(f, "auth.log", "okta.json", "graph_signins.json", "winlogbeat.ndjson")
	f.Fuzz(func(t *testing.T, data []byte) { drain(t, data, Options{MaxLineBytes: 4096}) })
}

// FuzzJSONWalk checks the walker against encoding/json: every valid JSON
// object or array (not nested too deeply) must walk without error.
func FuzzJSONWalk(f *testing.F) {
	seedLines(f, "okta.json", "graph_signins.json", "winlogbeat.ndjson")
	f.Add([]byte(`{"a":"\u00e9\ud83d\ude00\\\"","b":[1,-2.5e3,true,false,null,{}],"c":{"d":[]}}`))
	var w jsonWalker
	f.Fuzz(func(t *testing.T, data []byte) {
		err := w.walk(data, func(path, val []byte, kind byte) {})
		valid := json.Valid(data)
		t0 := bytes.TrimLeft(data, " \t\r\n")
		container := len(t0) > 0 && (t0[0] == '{' || t0[0] == '[')
		if valid && container && err != nil && !errors.Is(err, errJSONDepth) {
			t.Fatalf("valid JSON rejected: %v", err)
		}
	})
}

// FuzzJSONWalkReference checks the iterative walker against the recursive
// reference walker: the same callbacks in the same order, and the same
// error, for any input.
func FuzzJSONWalkReference(f *testing.F) {
	seedLines(f, "okta.json", "graph_signins.json", "winlogbeat.ndjson", "getwinevent.json", "nxlog.ndjson")
	f.Add([]byte(`{"a":"\u00e9\ud83d\ude00\\\"","b":[1,-2.5e3,true,false,null,{}],"c":{"d":[]}}`))
	f.Add([]byte(`[{"":{"x":[[],[{}],"\ud800\u00zz"]}},1e+-,tru]`))
	f.Add([]byte(strings.Repeat("[", 70) + strings.Repeat("]", 70)))
	f.Add([]byte(`{"k":"` + strings.Repeat("abcdefg\\n", 20) + `"} `))
	var w jsonWalker
	var ref refWalker
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want []string
		gerr := w.walk(data, func(path, val []byte, kind byte) {
			got = append(got, fmt.Sprintf("%s=%c%q", path, kind, val))
		})
		werr := ref.walk(data, func(path, val []byte, kind byte) {
			want = append(want, fmt.Sprintf("%s=%c%q", path, kind, val))
		})
		if gerr != werr {
			t.Fatalf("error %v, reference %v", gerr, werr)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Fatalf("callbacks (-got +want):\n%s", diff)
		}
	})
}

func FuzzXML(f *testing.F) {
	f.Add(renderXML(evtxtest.KerberosSpray(fixtureBase)[:3], false, false))
	f.Add(renderXML(evtxtest.NTLMSpray(fixtureBase)[:2], true, true))
	f.Add([]byte("\ufeff<Events><Event xmlns='x'><System><EventID>4625</EventID></System><EventData><Data Name='TargetUserName'>a&amp;b</Data></EventData></Event><Event><System>"))
	f.Add([]byte("<Event><System><Provider Name='Unknown-Provider'/><EventID>999</EventID><TimeCreated SystemTime='2026-11-26T09:00:00Z'/></System></Event>"))
	f.Fuzz(func(t *testing.T, data []byte) { drain(t, data, Options{Format: FormatXML, MaxLineBytes: 8192}) })
}

func FuzzEVTX(f *testing.F) {
	f.Add(evtxtest.Write(evtxtest.KerberosSpray(fixtureBase)[:4]))
	f.Fuzz(func(t *testing.T, data []byte) { drain(t, data, Options{Format: FormatEVTX}) })
}
