package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestRetentionPrunesDeliveredNotifications: the retention pass deletes a
// notification delivered more than notifyKeep ago and keeps a pending one
// and a PSA ticket row.
func TestRetentionPrunesDeliveredNotifications(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, it := range []store.OutboxItem{{Target: notifyPrefix + "hook", Key: "sent"}, {Target: notifyPrefix + "hook", Key: "pending"}, {Target: "psa", Key: "ticket"}} {
		it.Kind, it.Body = "incident", json.RawMessage(`{}`)
		if _, err := st.AddOutbox(ctx, &it); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range [][2]string{{notifyPrefix + "hook", "sent"}, {"psa", "ticket"}} {
		if err := st.AckOutbox(ctx, k[0], k[1], 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(notifyKeep + time.Hour)
	cfg := config.Default()
	w, err := New(Options{Config: cfg, Store: st, Engines: &Engines{}, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.runRetention(rctx); close(done) }()
	left := func() map[string]bool {
		m := map[string]bool{}
		for _, target := range []string{notifyPrefix + "hook", "psa"} {
			items, err := st.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Target: target})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				m[it.Key] = true
			}
		}
		return m
	}
	for deadline := time.Now().Add(10 * time.Second); left()["sent"]; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the retention pass kept the delivered notification")
		}
	}
	cancel()
	<-done
	if m := left(); !m["pending"] || !m["ticket"] {
		t.Errorf("rows left %v, want the pending notification and the ticket", m)
	}
}
