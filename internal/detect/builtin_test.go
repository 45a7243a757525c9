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

// Every built-in rule that raises an incident worth a person's attention
// (medium and above) says what to do about it: the dashboard's case page
// shows these steps.
func TestBuiltinRulesHaveResponse(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rules {
		if LevelRank(r.Level) >= LevelRank("medium") {
			n++
			if len(r.Options.Response) == 0 {
				t.Errorf("%s (%s:%d): level %s but no firebreak.response steps", r.Ref(), r.File, r.Line, r.Level)
			}
		}
	}
	if n == 0 {
		t.Fatal("no built-in rule of level medium or above")
	}
}
