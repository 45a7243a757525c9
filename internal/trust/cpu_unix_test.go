//go:build unix

package trust

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared machine it is
// a steadier measure than wall time of what one query costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
