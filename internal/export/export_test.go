package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/event"
)

func doc(i int) []byte {
	e := event.Event{Timestamp: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Category: "authentication", Outcome: event.OutcomeFailure, UserName: fmt.Sprintf("user%05d", i), Tenant: "acme", Dataset: "sshd"}
	return event.AppendECS(nil, &e)
}

func TestSpoolOrderBoundAndRestart(t *testing.T) {
	dir := t.TempDir()
	one := int64(len(doc(0)) + 1)
	s, err := OpenSpool(dir, 10*one)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if _, err := s.Append(doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.PendingDocs != 10 || st.Dropped != 2 || st.PendingBytes != 10*one {
		t.Fatalf("stats after 12 appends into a bound of 10: %+v", st)
	}
	docs, next, err := s.Peek(1<<20, 4, 0)
	if err != nil || len(docs) != 4 || !bytes.Equal(docs[0], doc(0)) || !bytes.Equal(docs[3], doc(3)) {
		t.Fatalf("peek: %d docs, %v", len(docs), err)
	}
	if err := s.Commit(next, len(docs)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A restarted process resumes after the committed batch.
	s2, err := OpenSpool(dir, 10*one)
	if err != nil {
		t.Fatal(err)
	}
	if st := s2.Stats(); st.PendingDocs != 6 || st.PendingBytes != 6*one {
		t.Fatalf("after restart: %+v", st)
	}
	s2.Append(doc(100))
	var got []string
	for {
		docs, next, err := s2.Peek(1<<20, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) == 0 {
			break
		}
		for _, d := range docs {
			var e event.Event
			json.Unmarshal(d, &e)
			got = append(got, e.UserName)
		}
		s2.Commit(next, len(docs))
	}
	want := "user00004 user00005 user00006 user00007 user00008 user00009 user00100"
	if strings.Join(got, " ") != want {
		t.Errorf("order after restart: %v, want %s", got, want)
	}
	if st := s2.Stats(); st.PendingDocs != 0 || st.PendingBytes != 0 {
		t.Errorf("drained spool: %+v", st)
	}
}

func TestSpoolTornLine(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenSpool(dir, 1<<20)
	s.Append(doc(1))
	s.Close()
	// A crash mid-write leaves half a document at the end of the segment.
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.jsonl"))
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.Write(doc(2)[:20])
	f.Close()
	s2, err := OpenSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	s2.Append(doc(3))
	var n int
	for {
		docs, next, err := s2.Peek(1<<20, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) == 0 {
			break
		}
		for _, d := range docs {
			if !json.Valid(d) {
				t.Errorf("torn document handed out: %s", d)
			}
		}
		n += len(docs)
		s2.Commit(next, len(docs))
	}
	if st := s2.Stats(); n != 2 || st.Corrupt != 1 {
		t.Errorf("read %d documents, stats %+v; want 2 and 1 corrupt", n, st)
	}
}

// hecFake is a Splunk HEC built from the format page: it checks the token
// header, splits the stacked envelopes and keeps every event.
type hecFake struct {
	mu      sync.Mutex
	token   string
	events  map[string]int // user.name → times received
	total   int
	answer  func(n int) (int, string, http.Header) // n: request number; status 0 → accept
	reqs    int
	maxBody int
	latency time.Duration
}

func (f *hecFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs++
	f.maxBody = max(f.maxBody, len(body))
	if r.URL.Path != "/services/collector/event" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Splunk "+f.token {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"text":"Invalid token","code":4}`)
		return
	}
	if f.answer != nil {
		if st, b, h := f.answer(f.reqs); st != 0 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(st)
			io.WriteString(w, b)
			return
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for n := 0; ; n++ {
		var env struct {
			Time       float64         `json:"time"`
			SourceType string          `json:"sourcetype"`
			Event      json.RawMessage `json:"event"`
		}
		if err := dec.Decode(&env); err == io.EOF {
			break
		} else if err != nil || env.Event == nil || env.Time == 0 || env.SourceType == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"text":"Invalid data format","code":6,"invalid-event-number":%d}`, n)
			return
		}
		var e event.Event
		json.Unmarshal(env.Event, &e)
		if f.events != nil {
			f.events[e.UserName]++
		}
		f.total++
	}
	io.WriteString(w, `{"text":"Success","code":0}`)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func newHECExporter(t testing.TB, srvURL, dir string, bound int64, clk *fakeClock) *Exporter {
	t.Helper()
	env := connector.Env{Getenv: func(string) string { return "tok" }}
	h, err := NewHEC(HECConfig{URL: srvURL, Token: connector.SecretRef{Env: "HEC_TOKEN"}, Index: "firebreak"}, env)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := OpenSpool(dir, bound)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{}
	if clk != nil {
		o.Retry.Sleep, o.Now = clk.Sleep, clk.Now
	}
	return NewExporter("splunk", sp, h, o)
}

// runUntil runs x until cond holds (checked after every state change the
// exporter makes visible), then stops it.
func runUntil(t *testing.T, x *Exporter, cond func(Stats) bool) Stats {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	deadline := time.After(30 * time.Second)
	for {
		st := x.Stats()
		if cond(st) {
			cancel()
			<-done
			return x.Stats()
		}
		select {
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("condition not reached; stats %+v", x.Stats())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// TestHECDownForAnHour: the SIEM answers 503 for an hour of (fake) time;
// everything spooled meanwhile arrives exactly once when it is back, up to
// the bound; what the bound refused is counted.
func TestHECDownForAnHour(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	start := clk.Now()
	fake := &hecFake{token: "tok", events: map[string]int{}}
	fake.answer = func(int) (int, string, http.Header) {
		if clk.Now().Sub(start) < time.Hour {
			return http.StatusServiceUnavailable, `{"text":"Server is busy","code":9}`, nil
		}
		return 0, "", nil
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	one := int64(len(doc(0)) + 1)
	x := newHECExporter(t, srv.URL, t.TempDir(), 1000*one, clk)
	for i := range 1200 {
		x.Enqueue(doc(i))
	}
	st := runUntil(t, x, func(s Stats) bool { return s.Sent == 1000 })
	if st.Spool.Dropped != 200 || st.Failures == 0 || st.Rejected != 0 || st.Spool.PendingDocs != 0 {
		t.Errorf("stats %+v", st)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.events) != 1000 {
		t.Errorf("SIEM holds %d distinct events, want 1000", len(fake.events))
	}
	for u, n := range fake.events {
		if n != 1 {
			t.Errorf("%s received %d times", u, n)
		}
	}
	if clk.Now().Sub(start) < time.Hour {
		t.Errorf("delivered before the SIEM came back")
	}
}

func TestHECBadInput(t *testing.T) {
	t.Run("invalid-token-kept-and-named", func(t *testing.T) {
		clk := &fakeClock{now: time.Unix(0, 0)}
		fake := &hecFake{token: "other"}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		x := newHECExporter(t, srv.URL, t.TempDir(), 1<<20, clk)
		x.Enqueue(doc(1), doc(2))
		st := runUntil(t, x, func(s Stats) bool { return s.Failures >= 3 })
		if st.Sent != 0 || st.Rejected != 0 || st.Spool.PendingDocs != 2 || st.Permission == "" || !strings.Contains(st.LastError, "Invalid token") {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("invalid-data-rejected-and-counted", func(t *testing.T) {
		fake := &hecFake{token: "tok", answer: func(n int) (int, string, http.Header) {
			if n == 1 {
				return http.StatusBadRequest, `{"text":"Invalid data format","code":6,"invalid-event-number":1}`, nil
			}
			return 0, "", nil
		}}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		x := newHECExporter(t, srv.URL, t.TempDir(), 1<<20, &fakeClock{})
		x.Enqueue(doc(1), doc(2))
		st := runUntil(t, x, func(s Stats) bool { return s.Rejected == 2 })
		if !strings.Contains(st.LastError, "event 1 of the batch") || st.Spool.PendingDocs != 0 {
			t.Errorf("stats %+v", st)
		}
		x.Enqueue(doc(3))
		st = runUntil(t, x, func(s Stats) bool { return s.Sent == 1 })
		if st.Rejected != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("html-429-retry-after", func(t *testing.T) {
		clk := &fakeClock{now: time.Unix(0, 0)}
		var waits []time.Duration
		sleep := clk.Sleep
		fake := &hecFake{token: "tok", events: map[string]int{}, answer: func(n int) (int, string, http.Header) {
			switch n {
			case 1:
				return http.StatusBadGateway, "<html><body>502 Bad Gateway</body></html>", nil
			case 2:
				return http.StatusTooManyRequests, `{"text":"slow down","code":9}`, http.Header{"Retry-After": {"7"}}
			}
			return 0, "", nil
		}}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		x := newHECExporter(t, srv.URL, t.TempDir(), 1<<20, clk)
		var mu sync.Mutex
		x.retry.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return sleep(ctx, d)
		}
		x.Enqueue(doc(1))
		st := runUntil(t, x, func(s Stats) bool { return s.Sent == 1 })
		mu.Lock()
		defer mu.Unlock()
		if st.Failures != 2 || len(waits) != 2 || waits[1] != 7*time.Second {
			t.Errorf("stats %+v waits %v", st, waits)
		}
	})
}

// TestHECBatchesStayUnderLimit: batches respect max_batch_bytes.
func TestHECBatchesStayUnderLimit(t *testing.T) {
	fake := &hecFake{token: "tok"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	x := newHECExporter(t, srv.URL, t.TempDir(), 64<<20, nil)
	for i := range 20000 {
		x.Enqueue(doc(i))
	}
	runUntil(t, x, func(s Stats) bool { return s.Sent == 20000 })
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.maxBody > 1<<20 || fake.total != 20000 {
		t.Errorf("largest body %d bytes (limit 1 MB), %d events", fake.maxBody, fake.total)
	}
}

// BenchmarkHECExport: documents enqueued, spooled to disk and delivered
// to the HEC fake (the target: ≥ 20,000 events/s).
func BenchmarkHECExport(b *testing.B) {
	fake := &hecFake{token: "tok"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	docs := make([][]byte, 1000)
	for i := range docs {
		docs[i] = doc(i)
	}
	x := newHECExporter(b, srv.URL, b.TempDir(), 1<<30, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	n := 0
	start := time.Now()
	for b.Loop() {
		x.Enqueue(docs...)
		n += len(docs)
	}
	for x.Stats().Sent < int64(n) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	cancel()
	<-done
	b.ReportMetric(float64(n)/el.Seconds(), "events/s")
}
