package sqlstore

import "testing"

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
