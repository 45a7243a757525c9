package report

import (
	"bytes"
	"encoding/json"
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
