package report

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteSplicedMatchesEncoder checks that streaming produces the bytes
// json.Encoder produces for the whole value, nested or not, empty or not.
func TestWriteSplicedMatchesEncoder(t *testing.T) {
	type inner struct {
		Name  string `json:"name"`
		Items any    `json:"items,omitempty"`
		After string `json:"after"`
	}
	type outer struct {
		Head  string  `json:"head"`
		Rows  any     `json:"rows"`
		Inner []inner `json:"inner"`
	}
	items := []map[string]any{{"a": 1, "b": []int{1, 2}}, {"a": "<x> & \"y\""}}
	rows := []inner{{Name: "r1", After: "z"}, {Name: "r2"}}
	for _, n := range []int{0, 1, 2} {
		whole := outer{Head: "h", Rows: rows[:n], Inner: []inner{{Name: "i", Items: items[:n], After: "end"}}}
		if n == 0 {
			whole.Inner[0].Items = nil
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(whole); err != nil {
			t.Fatal(err)
		}
		skel := outer{Head: "h", Rows: json.RawMessage("null"), Inner: []inner{{Name: "i", After: "end"}}}
		if n > 0 {
			skel.Inner[0].Items = json.RawMessage("null")
		}
		var got bytes.Buffer
		err := writeSpliced(&got, skel,
			splice{key: "rows", n: n, item: func(i int) any { return rows[i] }},
			splice{key: "items", n: n, item: func(i int) any { return items[i] }})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(got.String(), want.String()); d != "" {
			t.Errorf("n=%d (-got +want):\n%s", n, d)
		}
	}
}

// TestWriteSplicedConcurrentMatchesEncoder: a large array whose elements
// are encoded on several goroutines gives the encoder's bytes too.
func TestWriteSplicedConcurrentMatchesEncoder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	type doc struct {
		Head  string `json:"head"`
		Items any    `json:"items"`
		Tail  []int  `json:"tail"`
	}
	for _, n := range []int{2*spliceBatch + 1, 37*spliceBatch + 5} {
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = map[string]any{"i": i, "s": strings.Repeat("<&>", i%7), "l": []int{i, i * 2}}
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc{Head: "h", Items: items, Tail: []int{1}}); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		err := writeSpliced(&got, doc{Head: "h", Items: json.RawMessage("null"), Tail: []int{1}},
			splice{key: "items", n: n, item: func(i int) any { return items[i] }, concurrent: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("n=%d: concurrent output differs from the encoder's (%d vs %d bytes)", n, got.Len(), want.Len())
		}
	}
}
