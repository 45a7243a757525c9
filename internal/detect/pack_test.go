package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/google/go-cmp/cmp"
)

var caseBase = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// parseCaseEvents reads the compact event notation of testdata/pack/*/events.txt:
//
//	[xN] +OFFSET[/STEP] DATASET OUTCOME key=value...
//
// N events starting at OFFSET, STEP apart; {i} in values is replaced by the
// event's index (1-based). Keys: user, ip, tenant, action, reason, code,
// host, category, n (Count); any other key becomes a source field.
func parseCaseEvents(t testing.TB, path string) []event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event.Event
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Fields(text)
		n := 1
		if strings.HasPrefix(parts[0], "x") {
			n, err = strconv.Atoi(parts[0][1:])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, line, err)
			}
			parts = parts[1:]
		}
		off, step, _ := strings.Cut(strings.TrimPrefix(parts[0], "+"), "/")
		o, err := time.ParseDuration(off)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		var s time.Duration
		if step != "" {
			if s, err = time.ParseDuration(step); err != nil {
				t.Fatalf("%s:%d: %v", path, line, err)
			}
		}
		for i := 1; i <= n; i++ {
			ev := event.Event{Timestamp: caseBase.Add(o + time.Duration(i-1)*s), Dataset: parts[1], Outcome: parts[2],
				Category: "authentication", File: path, Line: int64(line)}
			for _, kv := range parts[3:] {
				k, v, _ := strings.Cut(kv, "=")
				v = strings.ReplaceAll(v, "{i}", strconv.Itoa(i))
				switch k {
				case "user":
					ev.UserName = v
				case "ip":
					ev.SourceIP = netip.MustParseAddr(v)
				case "tenant":
					ev.Tenant = v
				case "action":
					ev.Action = v
				case "reason":
					ev.Reason = v
				case "code":
					ev.Code = v
				case "host":
					ev.HostName = v
				case "category":
					ev.Category = v
				case "n":
					ev.Count, _ = strconv.Atoi(v)
				default:
					ev.SetField(k, v)
				}
			}
			evs = append(evs, ev)
		}
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	return evs
}

// incidentAttrs describes an incident as attributes for comparison.
func incidentAttrs(inc *Incident) map[string]string {
	a := map[string]string{
		"rule":     inc.RuleName,
		"severity": inc.Severity,
		"alerts":   strconv.Itoa(inc.Alerts),
		"count":    strconv.FormatInt(inc.Count, 10),
		"distinct": strconv.FormatInt(inc.Distinct, 10),
	}
	if a["rule"] == "" {
		a["rule"] = inc.Rule
	}
	if inc.Tenant != "" {
		a["tenant"] = inc.Tenant
	}
	if len(inc.Tenants) > 0 && inc.Tenant == "" {
		a["tenants"] = strings.Join(inc.Tenants, ",")
	}
	for k, v := range inc.Key {
		a[k] = v
	}
	return a
}

func parseWant(line string) map[string]string {
	parts := strings.Fields(line)
	a := map[string]string{"rule": parts[0]}
	for _, kv := range parts[1:] {
		k, v, _ := strings.Cut(kv, "=")
		a[k] = v
	}
	return a
}

// baseOf renders the attributes that identify an incident (all but count
// and distinct, which a case may leave out).
func baseOf(a map[string]string) string {
	var keys []string
	for k := range a {
		if k != "rule" && k != "count" && k != "distinct" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(a["rule"])
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, a[k])
	}
	return b.String()
}

// parseCaseContext reads a case's optional context.txt: one tenant per line,
// "tenant=ID accounts=N benign=CIDR service=NAME" (benign and service
// repeatable).
func parseCaseContext(t testing.TB, path string) map[string]TenantContext {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]TenantContext{}
	for i, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		var id string
		var tc TenantContext
		for _, kv := range strings.Fields(l) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "tenant":
				id = v
			case "accounts":
				tc.Accounts, err = strconv.Atoi(v)
			case "benign":
				var p netip.Prefix
				p, err = netip.ParsePrefix(v)
				tc.BenignNetworks = append(tc.BenignNetworks, p)
			case "service":
				tc.ServiceAccounts = append(tc.ServiceAccounts, v)
			default:
				t.Fatalf("%s:%d: unknown key %q", path, i+1, k)
			}
			if err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
		}
		out[id] = tc
	}
	return out
}

func runCase(t *testing.T, rules []*Rule, dir string) {
	evs := parseCaseEvents(t, filepath.Join(dir, "events.txt"))
	e, err := NewEngine(rules, Options{Tenants: parseCaseContext(t, filepath.Join(dir, "context.txt"))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Flush()
	got := map[string]map[string]string{}
	var gotBases []string
	for _, inc := range e.Incidents() {
		a := incidentAttrs(inc)
		b := baseOf(a)
		if _, dup := got[b]; dup {
			t.Errorf("two incidents for %s", b)
		}
		got[b] = a
		gotBases = append(gotBases, b)
	}
	data, err := os.ReadFile(filepath.Join(dir, "want.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var wantBases []string
	want := map[string]map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		a := parseWant(l)
		want[baseOf(a)] = a
		wantBases = append(wantBases, baseOf(a))
	}
	slices.Sort(gotBases)
	slices.Sort(wantBases)
	if diff := cmp.Diff(gotBases, wantBases); diff != "" {
		t.Errorf("incidents (-got +want):\n%s", diff)
	}
	for b, w := range want {
		g, ok := got[b]
		if !ok {
			continue
		}
		for _, k := range []string{"count", "distinct"} {
			if wv, ok := w[k]; ok && g[k] != wv {
				t.Errorf("%s: %s = %s, want %s", b, k, g[k], wv)
			}
		}
	}
}

func TestRulePack(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob("testdata/pack/*")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			runCase(t, rules, dir)
		})
		data, _ := os.ReadFile(filepath.Join(dir, "want.txt"))
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				covered[f[0]] = true
			}
		}
	}
	// Every reported rule of the pack has a case that expects it.
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range e.rules {
		if cr.report && cr.r.Options.Escalates == "" && !covered[cr.r.Name] {
			t.Errorf("rule %s (%s) has no testdata/pack case", cr.r.Name, cr.r.File)
		}
		if cr.report {
			r := cr.r
			if r.ID == "" || r.Description == "" || r.Level == "" || len(r.Techniques) == 0 || len(r.FalsePositives) == 0 {
				t.Errorf("rule %s (%s): id, description, level, ATT&CK tags and falsepositives are required", r.Name, r.File)
			}
		}
	}
}
