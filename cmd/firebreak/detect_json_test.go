package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// encoderDetectJSON is how detect --format json wrote its document before
// writeDetectJSON: encoding/json's Encoder with a two-space indent.
func encoderDetectJSON(t *testing.T, doc *detectJSONDoc) []byte {
	t.Helper()
	ref := struct {
		Version   string              `json:"version"`
		Cases     []detect.Case       `json:"cases"`
		Incidents []event.Alert       `json:"incidents"`
		Input     ingest.Stats        `json:"input"`
		Engine    detect.Stats        `json:"engine"`
		Seconds   float64             `json:"seconds"`
		Rules     []map[string]string `json:"rules,omitempty"`
		Skipped   []string            `json:"skipped_inputs,omitempty"`
	}{doc.Version, doc.Cases, make([]event.Alert, 0, len(doc.Incidents)), doc.Input, doc.Engine, doc.Seconds, doc.Rules, doc.Skipped}
	for _, inc := range doc.Incidents {
		ref.Incidents = append(ref.Incidents, inc.ECS("", inc.Last))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ref); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDetectJSONLikeEncoder: the hand-indented document is byte for byte
// what the encoder writes, on the example estate's real-shaped logs, with
// HTML-sensitive characters, line separators and escapes in the strings,
// and with no incidents at all.
func TestDetectJSONLikeEncoder(t *testing.T) {
	rules, err := detect.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.NewEngine(rules, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var st ingest.Stats
	for _, f := range []string{"auth-cedar-law-srv01.log", "winlogbeat-security.ndjson", "entra-signins.json"} {
		r, err := ingest.Open(t.Context(), "../../examples/harbourview/logs/"+f, ingest.Options{Year: 2026})
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		for {
			if err := r.Next(&ev); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				break
			}
			eng.Process(&ev)
		}
		st.Add(r.Stats(), 5)
		_ = r.Close()
	}
	eng.Flush()
	incs := eng.Incidents()
	if len(incs) < 3 {
		t.Fatalf("want several incidents from the example logs, got %d", len(incs))
	}
	detect.SortIncidents(incs)
	incs[0].Title += ` <script>alert("x&y")</script> ` + "\u2028\u2029 tab\there \\ é 😀"
	incs[1].Key["user.name"] = "<&>\"\\\u2028"
	doc := &detectJSONDoc{Version: "1", Cases: detect.Cases(incs), Incidents: incs, Input: st, Engine: eng.Stats(), Seconds: 1.25,
		Rules: []map[string]string{{"a": "<b>"}}, Skipped: []string{"x: binary & <odd>"}}
	var got bytes.Buffer
	if err := writeDetectJSON(&got, doc); err != nil {
		t.Fatal(err)
	}
	if want := encoderDetectJSON(t, doc); !bytes.Equal(got.Bytes(), want) {
		i := 0
		for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
			i++
		}
		t.Fatalf("documents differ at byte %d:\ngot  %q\nwant %q", i, got.Bytes()[max(0, i-80):min(got.Len(), i+80)], want[max(0, i-80):min(len(want), i+80)])
	}

	// many incidents: the document is written in several flushes
	many := &detectJSONDoc{Version: "1", Cases: doc.Cases, Input: st, Engine: eng.Stats()}
	for len(many.Incidents) < 400 {
		many.Incidents = append(many.Incidents, incs...)
	}
	got.Reset()
	if err := writeDetectJSON(&got, many); err != nil {
		t.Fatal(err)
	}
	if want := encoderDetectJSON(t, many); got.Len() < 256<<10 || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("document of %d incidents (%d bytes) differs from the encoder's (%d bytes)", len(many.Incidents), got.Len(), len(want))
	}

	empty := &detectJSONDoc{Version: "1", Cases: []detect.Case{}, Input: ingest.Stats{Name: "-"}}
	got.Reset()
	if err := writeDetectJSON(&got, empty); err != nil {
		t.Fatal(err)
	}
	if want := encoderDetectJSON(t, empty); !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("empty document:\ngot  %s\nwant %s", got.Bytes(), want)
	}
}

// FuzzIndentJSON: for any JSON value json.Marshal writes, appendIndentJSON
// gives what json.Indent gives after the encoder's HTML-safe compaction.
func FuzzIndentJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{},[],"<&>"],"b":{"c":null}}`, `"\u2028"`, `[{"k":"v\"}"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var v any
		if json.Unmarshal(in, &v) != nil {
			return
		}
		src, err := json.Marshal(v)
		if err != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, src, "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := appendIndentJSON(nil, src, "  "); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("src %s:\ngot  %s\nwant %s", src, got, want.Bytes())
		}
	})
}
