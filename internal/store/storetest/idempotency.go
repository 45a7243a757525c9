package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// testIdempotency: a key's first claim is fresh; later ones see its
// answer (none yet, then the finished one), another owner's same key is
// its own, a released key is fresh again, an expired one too; of
// concurrent claims (replicas) exactly one is fresh.
func testIdempotency(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	ik, ok := s.(store.IdempotencyKeys)
	if !ok {
		t.Fatal("the store keeps no idempotency keys")
	}
	claim := func(owner, key, hash string, at time.Time) (store.IdempotentAnswer, bool) {
		t.Helper()
		a, fresh, err := ik.ClaimIdempotency(ctx, owner, key, hash, at)
		if err != nil {
			t.Fatal(err)
		}
		return a, fresh
	}
	if _, fresh := claim("token:a", "k", "h1", T0); !fresh {
		t.Fatal("first claim not fresh")
	}
	if a, fresh := claim("token:a", "k", "h1", T0.Add(time.Second)); fresh || a.Status != 0 || a.BodyHash != "h1" {
		t.Errorf("claim while answering = %+v fresh %v, want status 0, h1", a, fresh)
	}
	if err := ik.FinishIdempotency(ctx, "token:a", "k", 200, []byte(`{"accepted":3}`)); err != nil {
		t.Fatal(err)
	}
	if a, fresh := claim("token:a", "k", "h2", T0.Add(time.Minute)); fresh || a.Status != 200 || a.Response != `{"accepted":3}` || a.BodyHash != "h1" {
		t.Errorf("claim after the answer = %+v fresh %v, want the first answer", a, fresh)
	}
	if _, fresh := claim("token:b", "k", "h2", T0.Add(time.Minute)); !fresh {
		t.Error("another owner's same key not fresh")
	}
	if err := ik.ReleaseIdempotency(ctx, "token:b", "k"); err != nil {
		t.Fatal(err)
	}
	if _, fresh := claim("token:b", "k", "h3", T0.Add(2*time.Minute)); !fresh {
		t.Error("released key not fresh")
	}
	if a, fresh := claim("token:a", "k", "h4", T0.Add(store.IdempotencyTTL+time.Second)); !fresh || a.BodyHash != "h4" {
		t.Errorf("expired key = %+v fresh %v, want fresh", a, fresh)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	freshN := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, fresh, err := ik.ClaimIdempotency(ctx, "token:c", "race", "h", T0.Add(time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Error(err)
			}
			if fresh {
				mu.Lock()
				freshN++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if freshN != 1 {
		t.Errorf("%d of 8 concurrent claims fresh, want 1", freshN)
	}
	// A claim in flight for longer than IdempotencyAbandoned (a crash, a
	// failed release) is taken over, by one taker; a younger one is not.
	if _, fresh := claim("token:e", "stuck", "h", T0); !fresh {
		t.Fatal("first claim not fresh")
	}
	if a, fresh := claim("token:e", "stuck", "h", T0.Add(store.IdempotencyAbandoned-time.Second)); fresh || a.Status != 0 {
		t.Errorf("claim of a fresh in-flight key = %+v fresh %v, want in flight, not fresh", a, fresh)
	}
	late := T0.Add(store.IdempotencyAbandoned + time.Second)
	if _, fresh := claim("token:e", "stuck", "h", late); !fresh {
		t.Error("abandoned claim not taken over")
	}
	if a, fresh := claim("token:e", "stuck", "h", late); fresh || a.Status != 0 {
		t.Errorf("second taker of an abandoned claim = %+v fresh %v, want in flight, not fresh", a, fresh)
	}
	if err := ik.FinishIdempotency(ctx, "token:e", "stuck", 200, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if a, fresh := claim("token:e", "stuck", "h", late.Add(time.Hour)); fresh || a.Status != 200 {
		t.Errorf("claim of a finished key after the abandon bound = %+v fresh %v, want the answer", a, fresh)
	}
	// Progress: a released claim (a 503 after some batches) and an
	// abandoned one resume with the same body after what was committed;
	// another body starts over.
	if _, fresh := claim("token:f", "part", "h", T0); !fresh {
		t.Fatal("first claim not fresh")
	}
	if err := ik.ProgressIdempotency(ctx, "token:f", "part", 10000); err != nil {
		t.Fatal(err)
	}
	if err := ik.ReleaseIdempotency(ctx, "token:f", "part"); err != nil {
		t.Fatal(err)
	}
	if a, fresh := claim("token:f", "part", "h", T0.Add(time.Second)); !fresh || a.Committed != 10000 {
		t.Errorf("retry after a partial release = %+v fresh %v, want fresh, 10000 committed", a, fresh)
	}
	if err := ik.ProgressIdempotency(ctx, "token:f", "part", 15000); err != nil {
		t.Fatal(err)
	}
	if a, fresh := claim("token:f", "part", "h", T0.Add(time.Second+store.IdempotencyAbandoned+time.Second)); !fresh || a.Committed != 15000 {
		t.Errorf("takeover of an abandoned partial claim = %+v fresh %v, want fresh, 15000 committed", a, fresh)
	}
	if err := ik.ReleaseIdempotency(ctx, "token:f", "part"); err != nil {
		t.Fatal(err)
	}
	if a, fresh := claim("token:f", "part", "other", T0.Add(time.Hour)); !fresh || a.Committed != 0 {
		t.Errorf("another body after a partial release = %+v fresh %v, want fresh, 0 committed", a, fresh)
	}
	// Two replicas whose clocks read the same microsecond: one is first.
	if _, fresh := claim("token:d", "same", "h", T0); !fresh {
		t.Error("first claim not fresh")
	}
	if a, fresh := claim("token:d", "same", "h", T0); fresh || a.Status != 0 {
		t.Errorf("second claim at the same instant = %+v fresh %v, want in flight, not fresh", a, fresh)
	}
}

// testDeploymentMarks: the first value of a mark stands until cleared.
func testDeploymentMarks(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	m, ok := s.(store.DeploymentMarks)
	if !ok {
		t.Fatal("the store keeps no deployment marks")
	}
	if _, ok, err := m.Mark(ctx, store.MarkSplit); ok || err != nil {
		t.Fatalf("mark of a new store: %v %v", ok, err)
	}
	for i, v := range []string{"first", "second"} {
		if err := m.SetMark(ctx, store.MarkSplit, v, T0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, err := m.Mark(ctx, store.MarkSplit); !ok || err != nil || got.Value != "first" || !got.At.Equal(T0) {
		t.Errorf("mark = %+v %v %v, want the first", got, ok, err)
	}
	if err := m.ClearMark(ctx, store.MarkSplit); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Mark(ctx, store.MarkSplit); ok {
		t.Error("mark after clearing")
	}
}
