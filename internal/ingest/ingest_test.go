package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

func events(t testing.TB, name string, data []byte, opts Options) ([]event.Event, Stats) {
	t.Helper()
	r, err := NewReader(name, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for {
		var ev event.Event
		err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out, r.Stats()
}

func TestYearRollover(t *testing.T) {
	log := "Dec 31 23:59:58 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n" +
		"Jan  1 00:00:02 h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2\n" +
		"Dec 31 23:59:59 h sshd[1]: Failed password for root from 192.0.2.1 port 3 ssh2\n" + // late line
		"Jan  1 00:00:05 h sshd[1]: Failed password for root from 192.0.2.1 port 4 ssh2\n"
	want := []string{"2026-12-31T23:59:58Z", "2027-01-01T00:00:02Z", "2026-12-31T23:59:59Z", "2027-01-01T00:00:05Z"}
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"mtime-january", Options{ModTime: time.Date(2027, 1, 2, 3, 0, 0, 0, time.UTC)}},
		{"explicit-year", Options{Year: 2026, ModTime: time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)}},
		{"clock", Options{Now: func() time.Time { return time.Date(2027, 1, 1, 0, 10, 0, 0, time.UTC) }}},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs, _ := events(t, "x", []byte(log), c.opts)
			var got []string
			for _, e := range evs {
				got = append(got, e.Timestamp.Format(time.RFC3339))
			}
			if d := cmp.Diff(got, want); d != "" {
				t.Errorf("(-got +want):\n%s", d)
			}
		})
	}
}

// A log whose first line is later in the same month than the file's
// mtime began the previous year (loghub's OpenSSH_2k.log, "Dec 10", copied
// on 7 December, was placed three days in the future).
func TestYearFromMtimeDay(t *testing.T) {
	log := []byte("Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 192.0.2.1 port 1 ssh2\n")
	for _, c := range []struct {
		mtime time.Time
		want  int
	}{
		{time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), 2025},
		{time.Date(2026, 12, 10, 7, 0, 0, 0, time.UTC), 2026},
		{time.Date(2026, 12, 9, 23, 0, 0, 0, time.UTC), 2026}, // a day of slack for zones
		{time.Date(2027, 1, 3, 0, 0, 0, 0, time.UTC), 2026},
	} {
		evs, _ := events(t, "x", log, Options{ModTime: c.mtime})
		if got := evs[0].Timestamp.Year(); got != c.want {
			t.Errorf("mtime %s: year %d, want %d", c.mtime.Format(time.DateOnly), got, c.want)
		}
	}
}

func TestLocation(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	evs, _ := events(t, "x", []byte("Nov 26 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n"), Options{Year: 2026, Location: loc})
	if got, want := evs[0].Timestamp, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestGzipTransparent(t *testing.T) {
	plain, err := os.ReadFile("testdata/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(plain)
	zw.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log.1.gz")
	if err := os.WriteFile(path, zb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), path, Options{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for _, l := range readAll(t, r) {
		if !strings.HasPrefix(l, "#") {
			n++
		}
	}
	want, _ := events(t, "x", plain, Options{Year: 2026})
	if n != len(want) {
		t.Errorf("gzip: %d events, plain: %d", n, len(want))
	}
	if r.Format() != FormatSyslog {
		t.Errorf("format %q", r.Format())
	}
}

func TestTooLongLine(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("Nov 26 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n")
	b.WriteString("Nov 26 10:00:01 h sshd[1]: Failed password for ")
	b.Write(bytes.Repeat([]byte("A"), 10<<20))
	b.WriteString(" from 192.0.2.2 port 2 ssh2\n")
	b.WriteString("Nov 26 10:00:02 h sshd[1]: Failed password for root from 192.0.2.3 port 3 ssh2\n")
	evs, st := events(t, "big", b.Bytes(), Options{Year: 2026})
	if len(evs) != 2 || st.TooLong != 1 || st.Unparsed != 1 || st.Lines != 3 {
		t.Fatalf("events %d, stats %+v", len(evs), st)
	}
	if evs[1].Line != 3 || evs[1].SourceIP != netip.MustParseAddr("192.0.2.3") {
		t.Errorf("third line: %+v", evs[1])
	}
	if st.Samples[0].Line != 2 {
		t.Errorf("sample line %d, want 2", st.Samples[0].Line)
	}
	// a long JSON record is skipped too
	var j bytes.Buffer
	j.WriteString(`{"published":"2026-11-26T10:00:00Z","eventType":"user.session.start","actor":{"alternateId":"a@b.example"},"outcome":{"result":"FAILURE"}}` + "\n")
	j.WriteString(`{"published":"2026-11-26T10:00:00Z","eventType":"user.session.start","x":"` + strings.Repeat("x", 2<<20) + `"}` + "\n")
	j.WriteString(`{"published":"2026-11-26T10:00:01Z","eventType":"user.session.start","actor":{"alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"}}` + "\n")
	evs, st = events(t, "big.json", j.Bytes(), Options{})
	if len(evs) != 2 || st.TooLong != 1 {
		t.Fatalf("json: events %d, stats %+v", len(evs), st)
	}
}

func TestNoFinalNewlineAndCRLF(t *testing.T) {
	evs, st := events(t, "x", []byte("Nov 26 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\r\nNov 26 10:00:01 h sshd[1]: Accepted password for root from 192.0.2.1 port 1 ssh2"), Options{Year: 2026})
	if len(evs) != 2 || st.Unparsed != 0 || evs[1].Outcome != event.OutcomeSuccess {
		t.Fatalf("events %+v stats %+v", evs, st)
	}
}

func TestDocumentShapes(t *testing.T) {
	rec := func(user string) string {
		return `{"createdDateTime":"2026-11-26T09:00:00Z","userPrincipalName":"` + user + `","ipAddress":"192.0.2.1","status":{"errorCode":50126,"failureReason":"a } tricky ] \" string {"}}`
	}
	cases := []struct {
		name  string
		input string
		users []string
		bad   int64
	}{
		{"jsonl", rec("a@x") + "\n" + rec("b@x") + "\n", []string{"a@x", "b@x"}, 0},
		{"array-pretty", "[\n  " + rec("a@x") + ",\n  " + rec("b@x") + "\n]\n", []string{"a@x", "b@x"}, 0},
		{"array-one-line", "[" + rec("a@x") + "," + rec("b@x") + "]", []string{"a@x", "b@x"}, 0},
		{"graph-page-pretty", "{\n \"@odata.context\": \"x\",\n \"value\": [\n" + rec("a@x") + ",\n" + rec("b@x") + "\n],\n \"@odata.nextLink\": \"https://x/?$skiptoken={a}\"\n}\n", []string{"a@x", "b@x"}, 0},
		{"graph-pages-per-line", `{"@odata.context":"x","value":[` + rec("a@x") + "]}\n" + `{"@odata.context":"x","value":[` + rec("b@x") + "," + rec("c@x") + "]}\n", []string{"a@x", "b@x", "c@x"}, 0},
		{"azure-records", "{\n\"records\": [\n{\"time\":\"2026-11-26T09:00:00Z\",\"category\":\"SignInLogs\",\"properties\":" + rec("a@x") + "}\n]}\n", []string{"a@x"}, 0},
		{"pretty-objects-concatenated", "{\n \"createdDateTime\": \"2026-11-26T09:00:00Z\",\n \"userPrincipalName\": \"a@x\",\n \"status\": {\"errorCode\": 0}\n}\n{\n \"createdDateTime\": \"2026-11-26T09:00:01Z\",\n \"userPrincipalName\": \"b@x\",\n \"status\": {\"errorCode\": 0}\n}\n", []string{"a@x", "b@x"}, 0},
		{"truncated-array", "[\n" + rec("a@x") + ",\n" + rec("b@x")[:40], []string{"a@x"}, 1},
		{"bom", "\ufeff[" + rec("a@x") + "]", []string{"a@x"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, st := events(t, c.name, []byte(c.input), Options{Format: FormatEntra})
			var got []string
			for _, e := range evs {
				got = append(got, e.UserName)
			}
			if d := cmp.Diff(got, c.users); d != "" {
				t.Errorf("users (-got +want):\n%s", d)
			}
			if st.Unparsed != c.bad {
				t.Errorf("unparsed %d, want %d (%v)", st.Unparsed, c.bad, st.Samples)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	want := map[string]string{
		"auth.log": FormatSyslog, "journald.ndjson": FormatJournald, "winlogbeat.ndjson": FormatWindows,
		"nxlog.ndjson": FormatWindows, "getwinevent.json": FormatWindows, "graph_signins.json": FormatEntra,
		"azuremonitor_signins.ndjson": FormatEntra, "okta.json": FormatOkta,
	}
	for f, w := range want {
		r, err := Open(context.Background(), filepath.Join("testdata", f), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Format() != w {
			t.Errorf("%s: sniffed %q, want %q", f, r.Format(), w)
		}
		r.Close()
	}
	if _, err := NewReader("x", strings.NewReader(`{"a":1}`), Options{}); err == nil {
		t.Errorf("unknown JSON without a mapping: want an error")
	}
	if r, err := NewReader("x", strings.NewReader(""), Options{Format: "sshd"}); err != nil || r.Format() != FormatSyslog {
		t.Errorf("alias sshd: %v", err)
	}
	if _, err := NewReader("x", strings.NewReader(""), Options{Format: "cef"}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("bad format: %v", err)
	}
}

func TestParseSyslogMessage(t *testing.T) {
	now := func() time.Time { return time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC) }
	cases := []struct {
		msg  string
		ok   bool
		want string
	}{
		{"<38>Dec 31 23:59:00 web1 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2", true, "2026-12-31T23:59:00Z root 192.0.2.1 failure"},
		{"<38>Jan  1 00:04:00 web1 sshd[1]: Accepted publickey for ops from 192.0.2.1 port 22 ssh2: ED25519 SHA256:x", true, "2027-01-01T00:04:00Z ops 192.0.2.1 success"},
		{"<38>1 2027-01-01T00:00:00Z web1 sshd 1 - - Invalid user x from 192.0.2.2 port 9", true, "2027-01-01T00:00:00Z x 192.0.2.2 unknown"},
		{"<38>Jan  1 00:04:00 web1 CRON[1]: (root) CMD (x)", false, ""},
		{"garbage", false, ""},
		{"", false, ""},
	}
	var ev event.Event
	for _, c := range cases {
		ok := ParseSyslogMessage([]byte(c.msg), &ev, Options{Now: now, Tenant: "t1"})
		if ok != c.ok {
			t.Errorf("%q: ok %v, want %v", c.msg, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		got := ev.Timestamp.Format(time.RFC3339) + " " + ev.UserName + " " + ev.SourceIP.String() + " " + ev.Outcome
		if got != c.want || ev.Tenant != "t1" || ev.Dataset != "sshd" {
			t.Errorf("%q: got %q tenant %q, want %q", c.msg, got, ev.Tenant, c.want)
		}
	}
}

func TestTenantMap(t *testing.T) {
	e := &estate.Estate{
		Provider: estate.Provider{ID: "msp", Domains: []string{"harbourview-it.example"}},
		Tenants: []estate.Tenant{
			{ID: "cedar-law", Domains: []string{"cedar-law.example", "cedarlaw.example"}, EntraTenantID: "898606B0-4d66-5d8d-817b-def72482f314"},
			{ID: "riverside-clinic", Domains: []string{"riverside-clinic.example"}},
		},
		Assets: []estate.Asset{{ID: "a", Tenant: "riverside-clinic", Hostname: "RIVERS-DC01"}},
	}
	m := TenantMapFromEstate(e)
	m.Default = "unassigned"
	cases := []struct {
		ev   event.Event
		want string
	}{
		{event.Event{Fields: map[string]string{"tenantId": "898606b0-4d66-5d8d-817b-def72482f314"}}, "cedar-law"},
		{event.Event{HostName: "srv01.cedarlaw.example"}, "cedar-law"},
		{event.Event{HostName: "rivers-dc01"}, "riverside-clinic"},
		{event.Event{HostName: "RIVERS-DC01.corp.local"}, "riverside-clinic"},
		{event.Event{UserName: "Ann@Riverside-Clinic.example"}, "riverside-clinic"},
		{event.Event{UserDomain: "harbourview-it.example"}, "msp"},
		{event.Event{HostName: "unknown.example.org", UserName: "root"}, "unassigned"},
	}
	for i, c := range cases {
		if got := m.Lookup(&c.ev); got != c.want {
			t.Errorf("case %d: got %q, want %q", i, got, c.want)
		}
	}
	// a reader's per-host cache answers as Lookup, also for a host seen
	// again with another user or an Entra tenant id
	cache := hostTenants{m: m}
	for round := range 3 {
		for i, c := range cases {
			for _, ev := range []event.Event{c.ev,
				{HostName: c.ev.HostName, UserName: "ann@riverside-clinic.example"},
				{HostName: c.ev.HostName, UserDomain: "cedar-law.example"},
				{HostName: c.ev.HostName, Fields: map[string]string{"tenantId": "898606b0-4d66-5d8d-817b-def72482f314"}}} {
				if got, want := cache.lookup(&ev), m.Lookup(&ev); got != want {
					t.Errorf("round %d case %d %+v: cached %q, Lookup %q", round, i, ev, got, want)
				}
			}
		}
	}
	var nilMap *TenantMap
	if nilMap.Lookup(&event.Event{}) != "" {
		t.Error("nil map assigns a tenant")
	}
	// YAML, strict
	dir := t.TempDir()
	p := filepath.Join(dir, "tenants.yaml")
	os.WriteFile(p, []byte("hosts:\n  bastion-01: cedar-law\ndomains:\n  cedar-law.example: cedar-law\n"), 0o600)
	lm, err := LoadTenantMap(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := lm.Lookup(&event.Event{HostName: "bastion-01"}); got != "cedar-law" {
		t.Errorf("yaml map: %q", got)
	}
	os.WriteFile(p, []byte("hostz: {}\n"), 0o600)
	if _, err := LoadTenantMap(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestMapping(t *testing.T) {
	if _, err := ParseMapping("m.yaml", []byte("user: x\n")); err == nil || !strings.Contains(err.Error(), "timestamp") {
		t.Errorf("missing timestamp: %v", err)
	}
	if _, err := ParseMapping("m.yaml", []byte("timestamp: t\nusr: x\n")); err == nil || !strings.Contains(err.Error(), "m.yaml") {
		t.Errorf("unknown key: %v", err)
	}
	m, err := ParseMapping("m.yaml", []byte("timestamp: ts\ntimestamp_layout: unix_ms\nuser: who.name\noutcome: ok\nsuccess_values: [\"yes\"]\nfields: [job.id]\n"))
	if err != nil {
		t.Fatal(err)
	}
	evs, st := events(t, "g", []byte(`{"ts":1795683600000,"who":{"name":"ann"},"ok":"yes","job":{"id":"J1"}}`+"\n"+`{"who":{"name":"bob"}}`+"\n"), Options{Mapping: m})
	if len(evs) != 1 || st.Unparsed != 1 {
		t.Fatalf("events %d stats %+v", len(evs), st)
	}
	e := evs[0]
	if e.UserName != "ann" || e.Outcome != event.OutcomeSuccess || e.Fields["job.id"] != "J1" || !e.Timestamp.Equal(time.UnixMilli(1795683600000)) {
		t.Errorf("event %+v", e)
	}
}

func TestWindowsReasons(t *testing.T) {
	cases := []struct{ sub, want string }{
		{"0xC000006A", ReasonBadPassword}, {"0xc0000064", ReasonUnknownUser}, {"0xc0000234", ReasonLocked},
		{"0xc0000072", ReasonDisabled}, {"0xc0000071", ReasonPasswordExpired}, {"0xc0000193", ReasonAccountExpired},
		{"0xc000006f", ReasonBlocked}, {"0xc0000070", ReasonBlocked}, {"0xc0000133", ReasonOther}, {"0xc0000224", ReasonPasswordExpired},
	}
	for _, c := range cases {
		rec := `{"@timestamp":"2026-11-26T09:00:00Z","winlog":{"event_id":4625,"event_data":{"TargetUserName":"u","Status":"0xc000006d","SubStatus":"` + c.sub + `"}}}`
		evs, _ := events(t, "w", []byte(rec), Options{})
		if len(evs) != 1 || evs[0].Reason != c.want {
			t.Errorf("%s: got %+v, want reason %s", c.sub, evs, c.want)
		}
	}
	for code, want := range map[string]string{"0x18": ReasonBadPassword, "0x6": ReasonUnknownUser, "0x12": ReasonLocked, "0x17": ReasonPasswordExpired} {
		rec := `{"@timestamp":"2026-11-26T09:00:00Z","winlog":{"event_id":4771,"event_data":{"TargetUserName":"u","Status":"` + code + `","IpAddress":"::ffff:192.0.2.1"}}}`
		evs, _ := events(t, "w", []byte(rec), Options{})
		if len(evs) != 1 || evs[0].Reason != want || evs[0].SourceIP != netip.MustParseAddr("192.0.2.1") {
			t.Errorf("4771 %s: got %+v", code, evs)
		}
	}
}

func TestEntraCodes(t *testing.T) {
	cases := map[string][2]string{
		"0": {event.OutcomeSuccess, ""}, "50126": {event.OutcomeFailure, ReasonBadPassword},
		"50053": {event.OutcomeFailure, ReasonLocked}, "50055": {event.OutcomeFailure, ReasonPasswordExpired},
		"50057": {event.OutcomeFailure, ReasonDisabled}, "50034": {event.OutcomeFailure, ReasonUnknownUser},
		"500121": {event.OutcomeFailure, ReasonMFADenied}, "50074": {event.OutcomeUnknown, ReasonMFARequired},
		"50076": {event.OutcomeUnknown, ReasonMFARequired}, "50140": {event.OutcomeUnknown, ReasonInterrupted},
		"53003": {event.OutcomeFailure, ReasonBlocked}, "99999": {event.OutcomeFailure, ReasonOther},
	}
	for code, want := range cases {
		o, r := entraOutcome([]byte(code))
		if o != want[0] || r != want[1] {
			t.Errorf("%s: got %s/%s, want %s/%s", code, o, r, want[0], want[1])
		}
	}
}

func TestParseIP(t *testing.T) {
	for _, s := range []string{"1.2.3.4", "255.255.255.255", "0.0.0.0", "::1", "2001:db8::1", "::ffff:10.0.0.1", "[2001:db8::2]"} {
		a, ok := parseIP([]byte(s))
		w, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if !ok || err != nil || a != w.Unmap() {
			t.Errorf("%s: got %v %v", s, a, ok)
		}
	}
	for _, s := range []string{"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", "1..2.3", "host.example"} {
		if _, ok := parseIP([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestUTF16PowerShellExport(t *testing.T) {
	plain, err := os.ReadFile("testdata/getwinevent.json")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := events(t, "x", plain, Options{})
	for _, big := range []bool{false, true} {
		var b bytes.Buffer
		if big {
			b.Write([]byte{0xfe, 0xff})
		} else {
			b.Write([]byte{0xff, 0xfe})
		}
		for _, r := range string(plain) + "\u00e9\U0001F600" {
			for _, u := range utf16Encode(r) {
				if big {
					b.Write([]byte{byte(u >> 8), byte(u)})
				} else {
					b.Write([]byte{byte(u), byte(u >> 8)})
				}
			}
		}
		got, st := events(t, "utf16", b.Bytes(), Options{})
		if len(got) != len(want) || st.Format != FormatWindows {
			t.Fatalf("big=%v: %d events (%+v), want %d", big, len(got), st, len(want))
		}
		if got[0].UserName != want[0].UserName || !got[0].Timestamp.Equal(want[0].Timestamp) {
			t.Errorf("big=%v: %+v", big, got[0])
		}
	}
}

func utf16Encode(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xd800 + (r >> 10)), uint16(0xdc00 + (r & 0x3ff))}
}

// TestTenantFallsBackToIdentityProvider: with no --tenant and no map, Entra
// sign-ins keep their own tenant GUID and Okta events their org's domain,
// so three tenants sprayed from one address stay three tenants.
func TestTenantFallsBackToIdentityProvider(t *testing.T) {
	var b strings.Builder
	for i, tid := range []string{"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333"} {
		fmt.Fprintf(&b, `{"createdDateTime":"2026-11-26T09:00:0%dZ","userPrincipalName":"admin@t%d.example","ipAddress":"203.0.113.9","tenantId":"%s","status":{"errorCode":50126}}`+"\n", i, i, tid)
	}
	evs, _ := events(t, "signins.json", []byte(b.String()), Options{})
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		if want := fmt.Sprintf("%d%d%d", i+1, i+1, i+1); !strings.HasPrefix(ev.Tenant, want) {
			t.Errorf("event %d: tenant %q, want the sign-in's tenantId", i, ev.Tenant)
		}
	}
	// an explicit tenant or a map entry still wins
	evs, _ = events(t, "signins.json", []byte(b.String()), Options{Tenant: "cedar-law"})
	if evs[0].Tenant != "cedar-law" {
		t.Errorf("--tenant lost to the fallback: %q", evs[0].Tenant)
	}
	okta := `{"published":"2026-11-26T09:00:00Z","eventType":"user.session.start","actor":{"alternateId":"amy@Riverside.example"},"client":{"ipAddress":"203.0.113.9"},"outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}}` + "\n"
	evs, _ = events(t, "okta.json", []byte(okta), Options{})
	if len(evs) != 1 || evs[0].Tenant != "riverside.example" {
		t.Errorf("okta tenant: %+v", evs)
	}
}

// TestPrefilterKeepsEveryEvent proves the syslog prefilter changes no
// event and no unparsed count: it only moves "not authentication" lines
// to the prefiltered bucket.
func TestPrefilterKeepsEveryEvent(t *testing.T) {
	var gen bytes.Buffer
	if _, err := loggen.Generate(&gen, loggen.Options{Format: loggen.FormatSSHD, Lines: 20000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"generated": gen.Bytes()}
	for _, f := range []string{"auth.log", "legacy_pam.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			on, son := events(t, name, data, Options{Year: 2026})
			off, soff := events(t, name, data, Options{Year: 2026, NoPrefilter: true})
			if d := cmp.Diff(off, on, cmpopts.EquateComparable(netip.Addr{})); d != "" {
				t.Errorf("events differ (-without +with prefilter):\n%s", d)
			}
			if son.Lines != soff.Lines || son.Parsed != soff.Parsed || son.Unparsed != soff.Unparsed || son.Ignored != soff.Ignored {
				t.Errorf("counts differ: with %+v, without %+v", son, soff)
			}
			if name == "generated" && son.Skipped < son.Lines/2 {
				t.Errorf("prefilter skipped only %d of %d lines", son.Skipped, son.Lines)
			}
		})
	}
}

// A file that is not text (an image in a folder of logs) is one warning
// and one ignored input, not thousands of unparsed lines; a log with NUL
// padding after a crash is still read.
func TestBinaryInput(t *testing.T) {
	jpeg := append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x01\x00`\x00`\x00\x00"), bytes.Repeat([]byte("\x01\x02\n\x00\x05"), 500)...)
	evs, st := events(t, "x.jpg", jpeg, Options{Year: 2026})
	if len(evs) != 0 || st.Format != FormatSkipped || st.Unparsed != 0 || st.Ignored != 1 || len(st.Samples) != 1 || st.Programs[ProgramBinary] == nil {
		t.Errorf("binary input: %d events, stats %+v", len(evs), st)
	}
	readme := []byte("# Samples\n\nThis folder holds attack samples.\n127.0.0.1 - - [10/Oct/2020:13:55:36 +0000] \"GET / HTTP/1.1\" 200 2326\n")
	evs, st = events(t, "readme.md", readme, Options{Year: 2026})
	if len(evs) != 0 || st.Format != FormatSkipped || st.Unparsed != 0 || st.Ignored != 1 || len(st.Samples) != 1 {
		t.Errorf("text without a syslog line: %d events, stats %+v", len(evs), st)
	}
	padded := []byte("Mar  2 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n" + strings.Repeat("\x00", 300) +
		"Mar  2 10:00:05 h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2\n")
	evs, st = events(t, "auth.log", padded, Options{Year: 2026})
	if len(evs) != 2 || st.Format != FormatSyslog {
		t.Errorf("log with NUL padding: %d events (want 2), format %s", len(evs), st.Format)
	}
}

// With a provider id other than "msp" the MSP's own domains still map to
// "msp", the subject assess judges (they mapped to the provider id, a
// subject nothing judges).
func TestTenantMapProviderIDIsMSP(t *testing.T) {
	e := &estate.Estate{Provider: estate.Provider{ID: "tide", Domains: []string{"tide.example"}},
		Tenants: []estate.Tenant{{ID: "acme", Domains: []string{"acme.example"}}}}
	m := TenantMapFromEstate(e)
	if got := m.Domains["tide.example"]; got != estate.MSP {
		t.Errorf("tide.example -> %q, want %q", got, estate.MSP)
	}
	if got := m.Domains["acme.example"]; got != "acme" {
		t.Errorf("acme.example -> %q, want acme", got)
	}
}
