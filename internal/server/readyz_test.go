package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// pingCounter counts the store's pings.
type pingCounter struct {
	store.Store
	pings atomic.Int64
}

func (p *pingCounter) Ping(ctx context.Context) error {
	p.pings.Add(1)
	return p.Store.Ping(ctx)
}

// TestReadyzPingsStoreOnce: a load balancer asks /readyz every few
// seconds on every replica; each answer asks the store once (it pinged
// it itself, then again through the node's Ready).
func TestReadyzPingsStoreOnce(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pc := &pingCounter{Store: st}
	f := newFixtureOn(t, pc)
	for i := range 3 {
		before := pc.pings.Load()
		resp, body := f.client().do("GET", "/readyz", nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz: %d %s", resp.StatusCode, body)
		}
		if n := pc.pings.Load() - before; n != 1 {
			t.Errorf("request %d: the store was pinged %d times, want once", i, n)
		}
	}
}
