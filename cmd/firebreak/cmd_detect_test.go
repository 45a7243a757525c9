package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
)

func detectGlobals() (*globalOptions, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &globalOptions{stdout: &out, stderr: &errb, log: slog.New(slog.NewTextHandler(&errb, nil))}, &out, &errb
}

// sshdLog writes an auth.log with one brute force (6 failures), a benign
// typo and a garbage line.
func sshdLog(t *testing.T, reversed bool) string {
	t.Helper()
	var lines []string
	for i := range 6 {
		lines = append(lines, fmt.Sprintf("Mar  2 10:00:%02d srv01 sshd[%d]: Failed password for root from 203.0.113.5 port %d ssh2", i*5, 100+i, 40000+i))
	}
	lines = append(lines,
		"Mar  2 10:01:00 srv01 sshd[200]: Failed password for alice from 192.0.2.10 port 50000 ssh2",
		"Mar  2 10:01:05 srv01 sshd[200]: Accepted password for alice from 192.0.2.10 port 50000 ssh2",
	)
	if reversed {
		for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
			lines[i], lines[j] = lines[j], lines[i]
		}
	}
	lines = append(lines, "\x00\x01 binary garbage")
	p := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDetectReplay(t *testing.T) {
	log := sshdLog(t, false)
	g, out, errb := detectGlobals()
	opts := detectOptions{format: "json", progress: "never", tenant: "cedar-law", year: 2026}
	if err := runDetect(t.Context(), opts, g, []string{log}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Incidents []event.Alert `json:"incidents"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Incidents) != 1 || doc.Incidents[0].RuleName != "ssh_bruteforce" || doc.Incidents[0].Key["source.ip"] != "203.0.113.5" ||
		doc.Incidents[0].Tenant != "cedar-law" || doc.Incidents[0].Count != 6 {
		t.Errorf("incidents: %+v", doc.Incidents)
	}
	for _, want := range []string{"read 9 lines", "unparsed", "incidents: 1, ssh_bruteforce 1"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, errb)
		}
	}

	t.Run("reversed-input-is-sorted", func(t *testing.T) {
		g, out, _ := detectGlobals()
		opts := detectOptions{format: "jsonl", progress: "never", tenant: "cedar-law", year: 2026}
		if err := runDetect(t.Context(), opts, g, []string{sshdLog(t, true)}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), `"alert":{"kind":"new"}`); n != 1 {
			t.Errorf("%d new alerts, want 1:\n%s", n, out)
		}
	})

	t.Run("fail-on", func(t *testing.T) {
		g, _, _ := detectGlobals()
		opts := detectOptions{format: "table", progress: "never", year: 2026, failOn: "medium"}
		if err := runDetect(t.Context(), opts, g, []string{log}); !errors.Is(err, ErrFindings) {
			t.Errorf("err = %v, want ErrFindings", err)
		}
		opts.failOn = "high"
		if err := runDetect(t.Context(), opts, g, []string{log}); err != nil {
			t.Errorf("err = %v, want nil (only a medium incident)", err)
		}
	})

	t.Run("rules-override", func(t *testing.T) {
		dir := t.TempDir()
		// Same id as the built-in ssh_bruteforce, threshold raised to 10.
		rule := `title: SSH brute force (stricter)
id: 12452b35-c9e2-4640-ab82-bc890593e346
name: ssh_bruteforce
correlation: {type: event_count, rules: [sshd_auth_failure], group-by: [source.ip], timespan: 10m, condition: {gte: 10}}
level: high
`
		if err := os.WriteFile(filepath.Join(dir, "mine.yml"), []byte(rule), 0o644); err != nil {
			t.Fatal(err)
		}
		g, out, _ := detectGlobals()
		opts := detectOptions{format: "table", progress: "never", year: 2026, rulesDirs: []string{dir}}
		if err := runDetect(t.Context(), opts, g, []string{log}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "no incidents") {
			t.Errorf("override not applied:\n%s", out)
		}
	})

	t.Run("bad-rule", func(t *testing.T) {
		dir := t.TempDir()
		bad := "title: bad\nid: bad\ndetection:\n  sel: {user.name|re: '(('}\n  condition: sel\n"
		if err := os.WriteFile(filepath.Join(dir, "bad.yml"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		g, _, _ := detectGlobals()
		opts := detectOptions{format: "table", progress: "never", rulesDirs: []string{dir}}
		err := runDetect(t.Context(), opts, g, []string{log})
		if err == nil || !strings.Contains(err.Error(), "bad.yml:4") || !strings.Contains(err.Error(), "bad regular expression") {
			t.Errorf("err = %v, want one naming bad.yml:4 and the regex", err)
		}
	})

	t.Run("usage", func(t *testing.T) {
		g, _, _ := detectGlobals()
		var ue usageError
		for _, o := range []detectOptions{{format: "xml", progress: "never"}, {format: "table", progress: "never", failOn: "urgent"}, {format: "table", progress: "never", inputFormat: "csv"},
			{format: "table", progress: "never", timezone: "Mars/Olympus_Mons"}} {
			if err := runDetect(t.Context(), o, g, []string{log}); !errors.As(err, &ue) {
				t.Errorf("%+v: err = %v, want a usage error", o, err)
			}
		}
	})
}

// TestDetectMergesInputsByTime replays a rotated log given newest file first
// (auth.log, then auth.log.1): the inputs are merged by event time, so the
// result equals replaying the single in-order file, and nothing is dropped as
// late.
func TestDetectMergesInputsByTime(t *testing.T) {
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf("Mar  2 10:%02d:00 srv01 sshd[%d]: Failed password for root from 203.0.113.5 port %d ssh2", i, 100+i, 40000+i))
	}
	dir := t.TempDir()
	write := func(name string, ls []string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(ls, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	whole := write("whole.log", lines)
	older := write("auth.log.1", lines[:6])
	newer := write("auth.log", lines[6:])

	run := func(files ...string) ([]event.Alert, string) {
		g, out, errb := detectGlobals()
		opts := detectOptions{format: "json", progress: "never", tenant: "cedar-law", year: 2026}
		if err := runDetect(t.Context(), opts, g, files); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Incidents []event.Alert `json:"incidents"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return doc.Incidents, errb.String()
	}
	want, _ := run(whole)
	got, summary := run(newer, older)
	if len(want) == 0 {
		t.Fatal("the single in-order file raised no incident")
	}
	if !strings.Contains(summary, " 0 late") {
		t.Errorf("summary reports late events:\n%s", summary)
	}
	key := func(incs []event.Alert) []string {
		var ks []string
		for _, inc := range incs {
			ks = append(ks, fmt.Sprintf("%s %v %d %s %s", inc.RuleName, inc.Key, inc.Count, inc.Start.Format("15:04"), inc.End.Format("15:04")))
		}
		return ks
	}
	if diff := cmp.Diff(key(got), key(want)); diff != "" {
		t.Errorf("merged replay differs from the in-order file (-got +want):\n%s", diff)
	}
}

// TestDetectTimezone replays RFC 3164 lines, which carry no zone, with
// --timezone: the incident's times are the local wall clock converted to UTC,
// daylight saving included.
func TestDetectTimezone(t *testing.T) {
	tests := []struct {
		name, timezone, date string
		want                 time.Time
	}{
		{"default-utc", "", "Mar  2", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
		{"utc", "UTC", "Mar  2", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
		// US daylight saving time starts on 8 March 2026: EST (-5) before, EDT (-4) after.
		{"new-york-standard", "America/New_York", "Mar  2", time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)},
		{"new-york-daylight", "America/New_York", "Mar 20", time.Date(2026, 3, 20, 14, 0, 0, 0, time.UTC)},
		{"london-summer", "Europe/London", "Jul  1", time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			for i := range 6 {
				lines = append(lines, fmt.Sprintf("%s 10:00:%02d srv01 sshd[%d]: Failed password for root from 203.0.113.5 port %d ssh2", tt.date, i*5, 100+i, 40000+i))
			}
			p := filepath.Join(t.TempDir(), "auth.log")
			if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			g, out, _ := detectGlobals()
			opts := detectOptions{format: "json", progress: "never", year: 2026, timezone: tt.timezone}
			if err := runDetect(t.Context(), opts, g, []string{p}); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Incidents []event.Alert `json:"incidents"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(doc.Incidents) != 1 {
				t.Fatalf("%d incidents, want 1:\n%s", len(doc.Incidents), out)
			}
			inc := doc.Incidents[0]
			got := []time.Time{inc.Start.UTC(), inc.End.UTC()}
			want := []time.Time{tt.want, tt.want.Add(25 * time.Second)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("incident first/last (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDetectCountsInputsWithoutEvents checks an input that yields no event
// (nothing but garbage) is still read, counted and reported, next to a good one.
func TestDetectCountsInputsWithoutEvents(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.log")
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02 not a log\n\xff\xfe binary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := sshdLog(t, false)
	g, _, errb := detectGlobals()
	opts := detectOptions{format: "json", progress: "never", tenant: "cedar-law", year: 2026}
	if err := runDetect(t.Context(), opts, g, []string{garbage, good}); err != nil {
		t.Fatal(err)
	}
	summary := errb.String()
	if !strings.Contains(summary, "from 2 input(s)") {
		t.Errorf("summary does not count both inputs:\n%s", summary)
	}
	if !strings.Contains(summary, "garbage.log:1") {
		t.Errorf("summary does not name the garbage input's unparsed lines:\n%s", summary)
	}
}

// TestDetectCases: one attacker that trips several rules is one case, in the
// JSON (with the incident ids) and in the table; the same data either way.
func TestDetectCases(t *testing.T) {
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf("Mar  2 10:00:%02d srv01 sshd[%d]: Failed password for invalid user u%d from 203.0.113.9 port %d ssh2", i*2, 100+i, i, 40000+i))
	}
	lines = append(lines, "Mar  2 10:02:00 srv01 sshd[300]: Accepted password for backup from 203.0.113.9 port 41000 ssh2")
	p := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g, out, _ := detectGlobals()
	opts := detectOptions{format: "json", progress: "never", tenant: "cedar-law", year: 2026}
	if err := runDetect(t.Context(), opts, g, []string{p}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases     []detect.Case `json:"cases"`
		Incidents []event.Alert `json:"incidents"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) != 1 {
		t.Fatalf("cases: %+v", doc.Cases)
	}
	c := doc.Cases[0]
	if c.Attacker != "source.ip=203.0.113.9" || c.Severity != "critical" || len(c.IncidentIDs) != len(doc.Incidents) || !slices.Contains(c.Rules, "success_after_spray") {
		t.Errorf("case %+v over %d incidents", c, len(doc.Incidents))
	}
	g, out, _ = detectGlobals()
	opts.format = "table"
	if err := runDetect(t.Context(), opts, g, []string{p}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 case(s), one per attacker") || !strings.Contains(out.String(), "critical  source.ip=203.0.113.9") ||
		!strings.Contains(out.String(), "source.ip=203.0.113.9: A source address that sprayed") {
		t.Errorf("table:\n%s", out)
	}
}

// TestDetectNow: detect --now is the clock its summary is judged at (the
// age of each authentication source's last event, in the summary file and
// on stderr), parsed as assess --now is (parseNow), and it gives the ages
// assess --now reads back from the summary file for FB-AUTH-004: one
// clock for both verbs. The log's last event is 2026-03-02 10:01:05.
func TestDetectNow(t *testing.T) {
	log := sshdLog(t, false)
	est := filepath.Join("..", "..", "examples", "harbourview")
	for _, tc := range []struct {
		now  string
		days int
		want assess.Status // cedar-law's FB-AUTH-004 at the same --now
	}{
		{"2026-03-05", 2, assess.StatusPass},
		{"2026-03-12", 9, assess.StatusFail}, // more than 7 days silent
	} {
		t.Run(tc.now, func(t *testing.T) {
			sum := filepath.Join(t.TempDir(), "summary.json")
			g, _, errb := detectGlobals()
			opts := detectOptions{format: "json", progress: "never", tenant: "cedar-law", year: 2026, summaryFile: sum, now: tc.now}
			if err := runDetect(t.Context(), opts, g, []string{log}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(sum)
			if err != nil {
				t.Fatal(err)
			}
			mon, err := assess.LoadAuthMonitoring(bytes.NewReader(b), sum)
			if err != nil {
				t.Fatal(err)
			}
			if got := mon.AsOf.Format(time.DateOnly); got != tc.now || len(mon.Sources) != 1 || mon.Sources[0].DaysSinceLast == nil || *mon.Sources[0].DaysSinceLast != tc.days {
				t.Fatalf("summary as of %s, sources %+v; want as of %s, last event %d days ago", got, mon.Sources, tc.now, tc.days)
			}
			line := fmt.Sprintf("authentication sources as of %sT00:00:00Z: 1", tc.now)
			age := fmt.Sprintf("cedar-law sshd@srv01: 8 events, 7 failed, last event %d days ago", tc.days)
			if !strings.Contains(errb.String(), line) || !strings.Contains(errb.String(), age) {
				t.Errorf("stderr summary lacks %q / %q:\n%s", line, age, errb)
			}
			// assess at the same --now reads the same age.
			js := filepath.Join(t.TempDir(), "a.json")
			ga, _, _ := detectGlobals()
			if err := runAssess(t.Context(), assessOptions{Output: js, Format: "json", Now: tc.now, NoTrust: true, DetectSummary: sum, getenv: noEnv(t.TempDir())}, ga, est); err != nil {
				t.Fatalf("assess: %v", err)
			}
			var rep assess.Report
			if b, err := os.ReadFile(js); err != nil {
				t.Fatal(err)
			} else if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range rep.Results {
				if r.Control != "FB-AUTH-004" || r.Subject != "cedar-law" {
					continue
				}
				found = true
				ev := fmt.Sprint(r.Evidence)
				if r.Status != tc.want || !strings.Contains(ev, fmt.Sprintf("last %d days ago", tc.days)) {
					t.Errorf("assess --now %s: cedar-law FB-AUTH-004 %s %s, want %s with the age detect gave (%d days)", tc.now, r.Status, ev, tc.want, tc.days)
				}
			}
			if !found {
				t.Error("no FB-AUTH-004 result for cedar-law")
			}
		})
	}
	t.Run("bad-now", func(t *testing.T) {
		g, _, _ := detectGlobals()
		err := runDetect(t.Context(), detectOptions{format: "json", progress: "never", now: "last tuesday"}, g, []string{log})
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--now") {
			t.Errorf("detect --now 'last tuesday': %v, want a usage error naming --now", err)
		}
	})
}
