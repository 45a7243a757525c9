//go:build unix

package detect

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time (benchmarks report CPU
// time per line besides wall time, since the build machine is shared).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
