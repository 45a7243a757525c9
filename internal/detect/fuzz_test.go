package detect

import (
	"io/fs"
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// FuzzParseRules: any input is a rule set or an error, never a panic; rules
// that load also compile and run.
func FuzzParseRules(f *testing.F) {
	matches, _ := fs.Glob(BuiltinFS(), "*.yml")
	for _, m := range matches {
		data, _ := fs.ReadFile(BuiltinFS(), m)
		f.Add(data)
	}
	f.Add([]byte("title: t\nid: x\ndetection:\n  a: {user.name|re: '(a|b)*c', source.ip|cidr: 10.0.0.0/8}\n  b: ['kw*', '?x']\n  condition: 1 of them and not (a or b)\n"))
	f.Add([]byte("title: t\nid: x\ncorrelation: {type: temporal_ordered, rules: [a, a], group-by: [x], timespan: 1s, aliases: {x: {a: y}}}\n"))
	f.Add([]byte("title: t\nid: x\nlogsource: {product: windows, service: security}\ndetection:\n  a: {CommandLine|windash|contains: ' -enc ', p|wide|base64offset|contains: iex, q|base64: x}\n  b: {SubjectUserName|fieldref: TargetUserName, LogonType|neq: 3, IpAddress: '-', h|expand: '%dc%'}\n  condition: a or b\n---\ntitle: f\nid: f\nlogsource: {product: windows}\nfilter: {rules: [x], s: {u: v}, condition: not s}\n"))
	f.Add([]byte("title: t\nid: x\ncorrelation: {type: value_count, rules: [a], group-by: [organization.id], timespan: 1m, condition: {field: user.name, gte: 5}}\nfirebreak: {relative_to_accounts: {fraction: 0.5, min: 3}, list: [source.ip]}\n"))
	ev := event.Event{Timestamp: time.Unix(1e9, 0), Outcome: "failure", UserName: "u", Category: "authentication",
		Dataset: "sshd", SourceIP: netip.MustParseAddr("10.0.0.1"), Fields: map[string]string{"message": "kwx", "y": "1"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules("fuzz.yml", data)
		if err != nil {
			return
		}
		e, err := NewEngine(rules, Options{Tenants: map[string]TenantContext{"": {Accounts: 7}}, Placeholders: map[string][]string{"dc": {"10.0.0.0/8", "*x"}}})
		if err != nil {
			return
		}
		for i := range 3 {
			ev.Timestamp = ev.Timestamp.Add(time.Duration(i) * time.Second)
			e.Process(&ev)
		}
		e.Flush()
	})
}
