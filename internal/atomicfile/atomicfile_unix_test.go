//go:build unix

package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A named pipe (standing in for /dev/null or /dev/stdout, which a test must
// not risk replacing) is written through, not renamed over.
func TestWriteThroughNonRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until a writer opens the pipe
		if err != nil {
			got <- "open: " + err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	// Through a symlink too, as /dev/stdout is one.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(link, 0o600, []byte("report")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Fatalf("%s is no longer the pipe after Write: %v %v", p, fi.Mode(), err)
		}
	}
	select {
	case s := <-got:
		if s != "report" {
			t.Errorf("reader got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was written into the pipe")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("temporary file left behind: %v", ents)
	}
}
