package detect

import (
	"fmt"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
)

func TestZZCands(t *testing.T) {
	rules, _ := Builtin()
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"success", "failure"} {
		ev := event.Event{Dataset: "sshd", Category: "authentication", Outcome: out}
		ev.Dataset = "linux.auth"
		for _, ds := range []string{"sshd", "linux.auth", "system.auth"} {
			ev.Dataset = ds
			c := e.candidates(&ev)
			fmt.Println(ds, out, len(c))
			for _, d := range c {
				fmt.Println("   ", d.r.ID, d.r.Title)
			}
		}
	}
}
