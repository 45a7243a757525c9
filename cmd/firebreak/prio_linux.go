//go:build linux

package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// lowerPriority makes this process yield CPU and disk to a serve running on
// the same machine: nice 10 and the lowest best-effort I/O priority (not
// the idle class, which a busy disk could starve for the whole backup
// while its snapshot keeps serve's WAL from restarting). Linux keeps both
// per thread and new threads inherit them from the thread that made them,
// so every thread the process has now is changed.
func lowerPriority() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	const (
		ioprioWhoProcess = 1
		ioprioClassBE    = 2
		ioprioClassShift = 13
	)
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, 10); err != nil {
			return err
		}
		if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprioClassBE<<ioprioClassShift|7); e != 0 {
			return e
		}
	}
	return nil
}
