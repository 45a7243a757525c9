//go:build linux

package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLowerPriority runs lowerPriority in a child copy of the test binary
// (so this process keeps its priority) and checks that every thread of the
// child, and a thread started afterwards, runs at nice 10 with the lowest
// best-effort I/O priority.
func TestLowerPriority(t *testing.T) {
	if os.Getenv("FIREBREAK_TEST_LOWER_PRIORITY") == "1" {
		if err := lowerPriority(); err != nil {
			t.Fatal(err)
		}
		done := make(chan string)
		go func() { done <- threadPriorities() }() // may run on a new thread
		t.Log("PRIO " + threadPriorities() + <-done)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLowerPriority$", "-test.v")
	cmd.Env = append(os.Environ(), "FIREBREAK_TEST_LOWER_PRIORITY=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	i := strings.Index(string(out), "PRIO ")
	if i < 0 {
		t.Fatalf("child printed no priorities:\n%s", out)
	}
	line := strings.Fields(strings.SplitN(string(out[i+5:]), "\n", 2)[0])
	if len(line) == 0 {
		t.Fatal("no threads listed")
	}
	for _, p := range line {
		if p != "10/16391" { // nice 10; I/O class best-effort (2<<13) level 7
			t.Errorf("thread priority %s, want nice 10 and best-effort I/O level 7 (10/16391): %v", p, line)
		}
	}
}

// threadPriorities lists "nice/ioprio" for every thread of the process.
func threadPriorities() string {
	tasks, _ := os.ReadDir("/proc/self/task")
	var b strings.Builder
	for _, tk := range tasks {
		tid, err := strconv.Atoi(tk.Name())
		if err != nil {
			continue
		}
		// getpriority returns 20-nice for PRIO_PROCESS through the raw call;
		// x/sys/unix.Getpriority returns that raw value.
		p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil {
			continue
		}
		io, _, _ := unix.Syscall(unix.SYS_IOPRIO_GET, 1, uintptr(tid), 0)
		b.WriteString(strconv.Itoa(20-p) + "/" + strconv.Itoa(int(io)) + " ")
	}
	return b.String()
}
