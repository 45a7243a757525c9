package connectortest

import (
	"io"
	"net/http"
	"runtime/pprof"
	"testing"
)

// TestStartFakeLabels: the handler runs on a goroutine labelled
// side=fake (the label a CPU profile splits on); the client's is not.
func TestStartFakeLabels(t *testing.T) {
	got := make(chan string, 1)
	srv := StartFake(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := pprof.Label(r.Context(), Label)
		side := "unlabelled"
		if v != "" {
			side = v
		}
		got <- side
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if s := <-got; s != FakeSide {
		t.Errorf("handler label %q, want %q", s, FakeSide)
	}
}
