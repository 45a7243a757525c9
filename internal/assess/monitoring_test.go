package assess

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// FB-AUTH-004 is read from detection, not attested: not evaluable with no
// detection evidence; failing when no rule acts on failed authentication,
// when a subject has no source, or when its sources have gone silent;
// passing when one of its sources delivered events within 7 days.
func TestFailedAuthMonitoring(t *testing.T) {
	dir := t.TempDir()
	src := agreeBase + `  - {id: t3, name: Three}
`
	if err := os.WriteFile(filepath.Join(dir, "estate.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := func(m *AuthMonitoring) map[string]Result {
		t.Helper()
		en, err := New(loadCatalog(t), Options{Clock: func() time.Time { return agreeNow }, AuthMonitoring: m})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := en.Run(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Result{}
		for _, r := range rep.Results {
			if r.Control == "FB-AUTH-004" {
				out[r.Subject] = r
			}
		}
		return out
	}
	// Without detection evidence nothing is judged.
	if got := run(nil); got["t1"].Status != StatusNotEvaluable || got["msp"].Status != StatusNotEvaluable {
		t.Errorf("no evidence: t1 %s, msp %s, want not_evaluable", got["t1"].Status, got["msp"].Status)
	}
	day := 24 * time.Hour
	m := &AuthMonitoring{
		Rules: []string{"ssh-brute-force", "password-spray"},
		Sources: []AuthSource{
			{Tenant: "t1", Dataset: "entra.signin", Events: 900, Failed: 40, Last: agreeNow.Add(-2 * day)},
			{Tenant: "t2", Dataset: "sshd", Host: "web1", Events: 10, Failed: 3, Last: agreeNow.Add(-30 * day)},
			{Dataset: "sshd", Host: "jump", Events: 5, Failed: 1, Last: agreeNow.Add(-time.Hour)},
		},
	}
	got := run(m)
	for sub, want := range map[string]Status{"t1": StatusPass, "t2": StatusFail, "t3": StatusFail, "msp": StatusPass} {
		if got[sub].Status != want {
			t.Errorf("%s FB-AUTH-004 = %s (%s), want %s", sub, got[sub].Status, got[sub].Message, want)
		}
	}
	if ev := got["t1"].Evidence; len(ev) != 1 || ev[0].ID != "entra.signin" {
		t.Errorf("t1 evidence = %+v, want the entra.signin source", ev)
	}
	m.Rules = nil
	if got := run(m); got["t1"].Status != StatusFail {
		t.Errorf("no failed-auth rule: t1 %s, want fail", got["t1"].Status)
	}
}
