package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-msp/firebreak/internal/store/bus"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
)

// The stream takes its replicas and limits from the options (bus.replicas,
// max_age, max_bytes in firebreak.yaml), and reopening with other limits
// updates them.
func TestStreamLimits(t *testing.T) {
	c := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info := func() *jetstream.StreamInfo {
		nc, err := nats.Connect(c.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		s, err := js.Stream(ctx, "FBLIMITS")
		if err != nil {
			t.Fatal(err)
		}
		in, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	b, err := bus.Open(ctx, c.URL(), bus.Options{Stream: "FBLIMITS", Subject: "fblimits", Replicas: 3, MaxAge: 2 * time.Hour, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := info().Config; got.Replicas != 3 || got.MaxAge != 2*time.Hour || got.MaxBytes != 64<<20 || got.Discard != jetstream.DiscardOld {
		t.Errorf("stream config: replicas %d, max age %s, max bytes %d, discard %v", got.Replicas, got.MaxAge, got.MaxBytes, got.Discard)
	}
	b, err = bus.Open(ctx, c.URL(), bus.Options{Stream: "FBLIMITS", Subject: "fblimits", Replicas: 3, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := info().Config; got.MaxAge != time.Hour || got.MaxBytes != -1 {
		t.Errorf("updated stream config: max age %s, max bytes %d (want 1h, -1 = no cap)", got.MaxAge, got.MaxBytes)
	}
}
