package pipeline

import (
	"bufio"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
)

// memNotifier records notifications in memory.
type memNotifier struct {
	mu    sync.Mutex
	lines []string
}

func (n *memNotifier) NotifyIncident(_ context.Context, inc *store.Incident, created bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	kind := "updated"
	if created {
		kind = "created"
	}
	n.lines = append(n.lines, kind+" "+inc.ID)
}

// oneProcess is the incidents of one engine over recs in time order.
func oneProcess(t *testing.T, recs []store.EventRecord) []incKey {
	t.Helper()
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b store.EventRecord) int { return a.Event.Timestamp.Compare(b.Event.Timestamp) })
	ref, _ := splitDetector()
	for i := range recs {
		ref.Process(&recs[i].Event)
	}
	var want []incKey
	for _, inc := range EngineOf(ref).Incidents() {
		want = append(want, incKey{inc.ID, inc.Rule, inc.First.UTC(), inc.Last.UTC(), int(inc.Count)})
	}
	slices.SortFunc(want, func(a, b incKey) int { return strings.Compare(a.ID, b.ID) })
	return want
}

// waitIncidents waits until the stored incidents equal want.
func waitIncidents(t *testing.T, st store.Store, want []incKey, d time.Duration) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		incs, err := st.ListIncidents(context.Background(), store.AllTenants(), store.IncidentFilter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var got []incKey
		for _, inc := range incs {
			got = append(got, incKey{inc.ID, inc.Rule, inc.First.UTC(), inc.Last.UTC(), inc.Count})
		}
		slices.SortFunc(got, func(a, b incKey) int { return strings.Compare(a.ID, b.ID) })
		if last = cmp.Diff(want, got); last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored incidents never matched one process's (-one process +split):\n%s", last)
		}
	}
}

// TestTakeoverResumesWindowsFromCheckpoint: detector A (its own process)
// owns half the partitions and has windows open on them when it is killed
// with SIGKILL; detector B takes its partitions over from their
// checkpoints (JetStream KV) and the rest of the attack arrives. The
// events are a day older than the detectors' clock, so neither the store
// replay (the detector's longest window back from its clock) nor the
// stream's follow margin reaches them: without the checkpoint (FB_NOCKPT,
// PartitionOptions.NoCheckpoints) the windows A had open are lost and the
// incidents' counts and first times differ from one process's. With it
// the stored incidents equal one engine's over every event, and each
// incident is notified as new exactly once across the two detectors.
func TestTakeoverResumesWindowsFromCheckpoint(t *testing.T) {
	st, dbURL := freshPostgres(t)
	cluster := bustest.Start(t)
	id := strings.ToLower(rand.Text()[:10])
	stream, subject, parts := "FBCKPT_"+id, "fbckpt."+id, 4
	ctx := context.Background()
	b, err := bus.Open(ctx, cluster.URL(), bus.Options{Stream: stream, Subject: subject, Partitions: parts, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	space := 0x5e1a0000 + time.Now().UnixNano()%0xffff
	now := splitNow.Add(24 * time.Hour)
	clock := func() time.Time { return now }
	const margin = time.Millisecond
	noCk := os.Getenv("FB_TEST_NOCKPT") == "1" // shows the test failing without checkpoints

	notes := filepath.Join(t.TempDir(), "notes")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FIREBREAK_SPLIT_HELPER=1", "FB_DB="+dbURL, "FB_NATS="+cluster.URL(), "FB_STREAM="+stream, "FB_SUBJECT="+subject,
		"FB_PARTITIONS="+strconv.Itoa(parts), "FB_SPACE="+strconv.FormatInt(space, 10), "FB_NOW="+now.Format(time.RFC3339),
		"FB_MARGIN="+margin.String(), "FB_NOTIFY="+notes)
	if noCk {
		cmd.Env = append(cmd.Env, "FB_NOCKPT=1")
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	bm := metrics.New()
	bn := &memNotifier{}
	dctx, stopB := context.WithCancel(ctx)
	doneB := make(chan struct{})
	go func() {
		base := Options{Store: st, Metrics: bm, Now: clock, Queue: 1 << 14, Notify: bn}
		if err := RunPartitions(dctx, PartitionOptions{Base: base, Bus: b, DatabaseURL: dbURL, NewDetector: splitDetector, Every: 100 * time.Millisecond,
			LockSpace: space, FollowMargin: margin, NoCheckpoints: noCk}); err != nil {
			t.Error(err)
		}
		close(doneB)
	}()
	defer func() { stopB(); <-doneB }()
	waitPartitionsShared(ctx, t, dbURL, space, parts, bm)

	tenants := []string{"alpha-co", "bravo-co", "charlie-co", "delta-co", "echo-co", "foxtrot-co"}
	batches := attack(t, tenants, 12)
	in := New(Options{Store: st, Metrics: metrics.New(), Now: clock, Publish: b.Publish})
	var all []store.EventRecord
	half := len(batches) / 2
	for _, recs := range batches[:half] {
		if err := in.Commit(ctx, recs); err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
	}
	// Every partition detected up to its last event (and checkpointed),
	// then A dies mid-window.
	nc, err := nats.Connect(cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for p := range parts {
		m, err := s.GetLastMsgForSubject(ctx, subject+"."+strconv.Itoa(p))
		if err != nil {
			continue // no event on this partition
		}
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			ck, ok, err := b.LoadCheckpoint(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if ok && ck.Last >= m.Sequence {
				break
			}
			if noCk && time.Now().After(deadline.Add(-55*time.Second)) {
				break // no checkpoints are kept: give detection a few seconds
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d: checkpoint %+v never reached sequence %d", p, ck, m.Sequence)
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	killed = true
	for _, recs := range batches[half:] {
		if err := in.Commit(ctx, recs); err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
	}
	want := oneProcess(t, all)
	if len(want) < len(tenants) {
		t.Fatalf("the workload raised %d incidents, want at least one per tenant", len(want))
	}
	waitIncidents(t, st, want, 90*time.Second)

	created := map[string]int{}
	count := func(line string) {
		if id, ok := strings.CutPrefix(line, "created "); ok {
			created[id]++
		}
	}
	if fh, err := os.Open(notes); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			count(sc.Text())
		}
		_ = fh.Close()
	}
	bn.mu.Lock()
	for _, line := range bn.lines {
		count(line)
	}
	bn.mu.Unlock()
	for _, w := range want {
		if created[w.ID] != 1 {
			t.Errorf("incident %s (%s) notified as new %d times, want once", w.ID, w.Rule, created[w.ID])
		}
	}
	if len(created) != len(want) {
		t.Errorf("%d incidents notified as new, %d raised", len(created), len(want))
	}
}
