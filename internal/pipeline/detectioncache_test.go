package pipeline

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// The cache gives what Detection gives, and decodes a detail again when it
// changed (same id, new samples); the row's columns always win.
func TestDetectionCacheMatchesDetection(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	det := &detect.Incident{ID: "i1", Rule: "r", RuleName: "Spray", Title: "Spray", Severity: "high", Level: "high", Tenant: "t1",
		Key: map[string]string{"source.ip": "203.0.113.9"}, First: at, Last: at, Count: 3,
		Samples: []detect.Sample{{Time: at, User: "alice", SourceIP: "203.0.113.9"}}}
	row := Stored(det)
	var c DetectionCache
	opts := cmpopts.IgnoreUnexported(detect.Incident{})
	for range 2 {
		if d := cmp.Diff(c.Detection(&row), Detection(&row), opts); d != "" {
			t.Fatalf("cached detection (-got +want):\n%s", d)
		}
	}
	det.Samples = append(det.Samples, detect.Sample{Time: at.Add(time.Minute), User: "bob", SourceIP: "203.0.113.9"})
	det.Count = 4
	row2 := Stored(det)
	row2.Status, row2.Severity = store.StatusAcknowledged, "critical"
	got := c.Detection(&row2)
	if d := cmp.Diff(got, Detection(&row2), opts); d != "" {
		t.Fatalf("after the detail changed (-got +want):\n%s", d)
	}
	if len(got.Samples) != 2 || got.Severity != "critical" {
		t.Fatalf("samples %d, severity %q: want 2 and the row's critical", len(got.Samples), got.Severity)
	}
	// A returned incident's columns are its own: changing one leaves the cache as it was.
	got.Title = "changed"
	if again := c.Detection(&row2); again.Title != "Spray" {
		t.Fatalf("title %q after a caller changed its copy", again.Title)
	}
}
