package estate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFormat(t *testing.T) {
	in := `# Our tools.
tools:
  - kind: gdap   # the relationship
    id: gdap-t1
    gdap:
      status: active
      customer: t1
      auto_extend: PT0S
      roles: [Helpdesk Administrator]
tenants:
    - {name: One, id: t1}
`
	want := `# Our tools.
tools:
  - id: gdap-t1
    kind: gdap # the relationship
    gdap:
      customer: t1
      roles: [Helpdesk Administrator]
      auto_extend: false # was PT0S
      status: active
tenants:
  - {id: t1, name: One}
`
	got, err := Format([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(got), want); d != "" {
		t.Errorf("Format (-got +want):\n%s", d)
	}
	again, err := Format(got)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(again), string(got)); d != "" {
		t.Errorf("Format is not idempotent (-again +once):\n%s", d)
	}
	// The formatted document loads to the same estate.
	dir := t.TempDir()
	for name, src := range map[string]string{"a/e.yaml": in, "b/e.yaml": string(got)} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Load(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a.Tools[0].GDAP, b.Tools[0].GDAP); d != "" {
		t.Errorf("formatted estate differs (-before +after):\n%s", d)
	}
}

func TestFormatPathRefusesInvalid(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "e.yaml")
	src := "tenants:\n  - {id: t1, criticality: hgh}\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FormatPath(dir, true); err == nil {
		t.Fatal("FormatPath formatted an invalid estate")
	}
	b, _ := os.ReadFile(p)
	if string(b) != src {
		t.Errorf("invalid estate was rewritten: %q", b)
	}
}
