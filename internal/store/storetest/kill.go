package storetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// KillChildEnv, when set in a test process's environment, turns the test
// named by KillTest's child argument into the appending child.
const KillChildEnv = "FIREBREAK_KILL_CHILD"

// KillChild is the body of the child test: it appends batches forever and
// prints "ack <id>..." after each AppendEvents returns. It returns false
// when the process is not the child (the test then does nothing).
func KillChild(open func(ctx context.Context) (store.Store, error)) bool {
	if os.Getenv(KillChildEnv) != "1" {
		return false
	}
	ctx := context.Background()
	s, err := open(ctx)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for b := 0; ; b++ {
		batch := make([]store.EventRecord, 200)
		for i := range batch {
			batch[i] = Event(Alpha, "kill-user", "192.0.2.99", T0.Add(time.Duration(b*200+i)*time.Millisecond), "failure")
			batch[i].Raw = fmt.Sprintf("kill-test batch %d line %d", b, i)
		}
		if err := s.AppendEvents(ctx, batch); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		// Acknowledge only after AppendEvents returned, like the HTTP 2xx.
		out.WriteString("ack")
		for _, r := range batch {
			out.WriteString(" " + strconv.FormatInt(r.ID, 10))
		}
		out.WriteString("\n")
		_ = out.Flush()
	}
}

// KillTest runs the named child test in a subprocess with extraEnv, lets it
// acknowledge at least minAcks batches, SIGKILLs it, and repeats for rounds
// rounds on the same store; then it reopens the store and checks that every
// acknowledged event id is present.
func KillTest(t *testing.T, childTest string, extraEnv []string, minAcks, rounds int, reopen func(ctx context.Context) (store.Store, error)) {
	t.Helper()
	acked := map[int64]bool{}
	batches := 0
	for round := range rounds {
		n := killRound(t, childTest, extraEnv, minAcks, acked)
		batches += n
		t.Logf("round %d: %d batches acknowledged before SIGKILL", round+1, n)
	}
	ctx := Ctx(t)
	s, err := reopen(ctx)
	must(t, err)
	defer func() { _ = s.Close() }()
	found := map[int64]bool{}
	q := store.EventQuery{User: "kill-user", Limit: 10000}
	for {
		page, err := s.SearchEvents(ctx, store.AllTenants(), q)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			found[r.ID] = true
		}
		q.BeforeID = page[len(page)-1].ID
	}
	missing := 0
	for id := range acked {
		if !found[id] {
			missing++
		}
	}
	t.Logf("acknowledged %d events in %d batches before SIGKILL; %d stored after restart", len(acked), batches, len(found))
	if missing > 0 {
		t.Fatalf("%d acknowledged events lost after kill -9", missing)
	}
}

// killRound runs one child until minAcks batches are acknowledged, kills it
// with SIGKILL and adds the acknowledged ids to acked.
func killRound(t *testing.T, childTest string, extraEnv []string, minAcks int, acked map[int64]bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+childTest+"$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), KillChildEnv+"=1"), extraEnv...)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	batches := 0
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			_ = cmd.Process.Kill()
			t.Fatalf("child: %s", line)
		}
		if !strings.HasPrefix(line, "ack ") {
			continue
		}
		for _, f := range strings.Fields(line)[1:] {
			id, err := strconv.ParseInt(f, 10, 64)
			must(t, err)
			if acked[id] {
				t.Errorf("id %d acknowledged twice", id)
			}
			acked[id] = true
		}
		batches++
		if batches == minAcks && !killed {
			// Kill in the middle of the next append.
			must(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before %d acks (got %d): %v", minAcks, batches, err)
	}
	return batches
}
