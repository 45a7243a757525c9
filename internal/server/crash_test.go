package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestCrashHelper is the server process TestKill9Durability kills; it does
// nothing unless started by that test.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv("FIREBREAK_CRASH_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestKill9Durability only")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	srv, err := newServer(Options{Config: cfg, Store: st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "crash", Permissions: []string{store.PermIngest}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "addr"), []byte(ln.Addr().String()+"\n"+tc.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = runServer(ctx, srv, ln) // until killed
}

// TestKill9Durability posts batches to a server process, kills it with
// SIGKILL mid-stream, reopens the store and checks that every event of
// every acknowledged (2xx) batch is there.
func TestKill9Durability(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test skipped in -short mode")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FIREBREAK_CRASH_HELPER_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var addr, token string
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "addr"))
		if err == nil && bytes.Count(b, []byte("\n")) == 1 {
			parts := strings.SplitN(string(b), "\n", 2)
			addr, token = parts[0], parts[1]
			break
		}
		if i > 300 {
			t.Fatal("helper server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	const perBatch = 100
	var mu sync.Mutex
	var acked []int
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := w; ; b += 4 {
				select {
				case <-stop:
					return
				default:
				}
				var body bytes.Buffer
				for i := range perBatch {
					fmt.Fprintf(&body, "Nov 26 06:30:11 srv01 sshd[42]: Failed password for b%d-u%d from 198.51.100.7 port 50022 ssh2\n", b, i)
				}
				req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/events", &body)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server died
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, b)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	_ = cmd.Wait()
	if len(acked) < 5 {
		t.Fatalf("only %d batches acknowledged before the kill", len(acked))
	}
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, b := range acked {
		for _, i := range []int{0, perBatch - 1} {
			n, err := st.CountEvents(context.Background(), store.AllTenants(), store.EventQuery{User: fmt.Sprintf("b%d-u%d", b, i)})
			if err != nil || n != 1 {
				t.Fatalf("acknowledged batch %d: event %d stored %d times (%v)", b, i, n, err)
			}
		}
	}
	total, _ := st.CountEvents(context.Background(), store.AllTenants(), store.EventQuery{})
	t.Logf("%d batches acknowledged before kill -9; all present (%d events stored)", len(acked), total)
}
