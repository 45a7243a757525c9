package sqlstore

import (
	"encoding/json"
	"testing"
)

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                         "SELECT 1",
		"a = ? AND b = ?":                  "a = $1 AND b = $2",
		"INSERT INTO t VALUES (?,?),(?,?)": "INSERT INTO t VALUES ($1,$2),($3,$4)",
	} {
		if got := Rebind(in); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzFieldsJSON(f *testing.F) {
	f.Add("EventID", "4625", "x\"y\\z\n\t\x01", "\xff\xfe ünï")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		got := fieldsJSON(m)
		var back map[string]string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("invalid JSON %q: %v", got, err)
		}
		want, _ := json.Marshal(m)
		var wantBack map[string]string
		json.Unmarshal(want, &wantBack)
		if len(back) != len(wantBack) {
			t.Fatalf("%q decoded to %v, want %v", got, back, wantBack)
		}
		for k, v := range wantBack {
			if back[k] != v {
				t.Fatalf("%q decoded to %v, want %v", got, back, wantBack)
			}
		}
	})
}
