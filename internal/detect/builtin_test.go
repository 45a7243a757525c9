package detect

import "testing"

func TestBuiltinCompiles(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range e.rules {
		if cr.report && cr.r.ID == "" {
			t.Errorf("%s: reported rule without id", cr.r.File)
		}
	}
}
