package migrations

import (
	"strings"
	"testing"
)

func TestListBothDialects(t *testing.T) {
	var counts []int
	for _, d := range []string{"sqlite", "postgres"} {
		ms, err := List(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].Version != 1 {
			t.Fatalf("%s: %+v", d, ms)
		}
		for _, m := range ms {
			if !strings.Contains(m.SQL, "CREATE") && m.Version == 1 {
				t.Errorf("%s/%s: no DDL", d, m.Name)
			}
		}
		counts = append(counts, len(ms))
	}
	if counts[0] != counts[1] {
		t.Errorf("sqlite has %d migrations, postgres %d: every schema change needs both", counts[0], counts[1])
	}
	if _, err := List("oracle"); err == nil {
		t.Error("unknown dialect accepted")
	}
}
