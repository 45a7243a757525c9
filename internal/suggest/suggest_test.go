package suggest

import "testing"

func TestClosest(t *testing.T) {
	opts := []string{"tenants", "tools", "active", "eligible"}
	for in, want := range map[string]string{"tenant": "tenants", "Active": "active", "eligable": "eligible", "xyzzy": "", "tols": "tools"} {
		if got := Closest(in, opts, max(1, len(in)/3)); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance = %d, want 3", d)
	}
}
