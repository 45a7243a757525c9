package kevupdate

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/kev"
)

func TestUpdate(t *testing.T) {
	f := &feed{body: snapshotBytes(t)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	dir := t.TempDir()
	now := time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC)
	u := &Updater{URL: srv.URL + "/kev.json", DataDir: dir, Client: srv.Client(), Now: func() time.Time { return now }}
	ctx := context.Background()

	f.mode.Store("ok")
	res, err := u.Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replaced || res.NotModified || res.Count != 1404 || res.Version != "2025.08.25" {
		t.Fatalf("first update: %+v", res)
	}
	stored, err := os.ReadFile(kev.StoredPath(dir))
	if err != nil || !bytes.Equal(stored, f.body) {
		t.Fatalf("stored catalog differs (err %v)", err)
	}
	if m := kev.ReadMeta(dir); m.ETag != `"kev-2025.08.25"` || !m.FetchedAt.Equal(now) {
		t.Errorf("meta %+v", m)
	}

	// Conditional GET: 304, nothing rewritten.
	res, err = u.Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.NotModified || res.Replaced || res.Count != 1404 || f.cond.Load() != 1 {
		t.Fatalf("second update: %+v cond=%d", res, f.cond.Load())
	}

	for _, mode := range []string{"html", "error", "truncated", "short", "older"} {
		t.Run(mode, func(t *testing.T) {
			f.mode.Store(mode)
			u.Force = mode != "older" // bypass the ETag so the server's bad body is served
			_, err := u.Update(ctx)
			if err == nil {
				t.Fatal("update accepted a bad response")
			}
			if mode == "older" && !errors.Is(err, ErrOlderCatalog) {
				t.Errorf("error %v, want ErrOlderCatalog", err)
			}
			if mode == "html" && !errors.Is(err, kev.ErrNotJSON) {
				t.Errorf("error %v, want kev.ErrNotJSON", err)
			}
			if mode == "error" && !strings.Contains(err.Error(), "503") {
				t.Errorf("error %v does not carry the status", err)
			}
			after, _ := os.ReadFile(kev.StoredPath(dir))
			if !bytes.Equal(after, f.body) {
				t.Fatal("stored catalog was replaced by a bad download")
			}
			if c, err := kev.LoadStored(dir); err != nil || len(c.Vulns) != 1404 {
				t.Fatalf("stored catalog unusable: %v", err)
			}
		})
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir + "/kev")
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

func snapshotBytes(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "known_exploited_vulnerabilities-2025.08.25.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// feed is a fake CISA server whose behaviour a test switches.
type feed struct {
	mode  atomic.Value // string
	body  []byte
	calls atomic.Int32
	cond  atomic.Int32 // requests carrying If-None-Match
}

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	const etag = `"kev-2025.08.25"`
	if r.Header.Get("If-None-Match") != "" {
		f.cond.Add(1)
	}
	switch f.mode.Load().(string) {
	case "ok":
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", "Mon, 25 Aug 2025 17:04:19 GMT")
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.body)
	case "html":
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html><head><title>Access Denied</title></head><body>Reference #18.2f</body></html>")
	case "error":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "<html><body><h1>503 Service Unavailable</h1></body></html>")
	case "truncated":
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.body[:len(f.body)/2]) // no Content-Length lie: just half a document
	case "short":
		// Claims the full length, sends half, then the connection drops.
		w.Header().Set("Content-Length", "999999")
		w.Write(f.body[:1000])
	case "older":
		old := bytes.Replace(f.body, []byte(`"dateReleased": "2025-08-25T17:04:19.9796Z"`), []byte(`"dateReleased": "2024-01-01T00:00:00Z"`), 1)
		old = bytes.Replace(old, []byte(`"catalogVersion": "2025.08.25"`), []byte(`"catalogVersion": "2024.01.01"`), 1)
		w.Write(old)
	}
}
