//go:build unix

package assess

import (
	"syscall"
	"time"
)

// ProcessCPU is the process's user+system CPU time so far (zero where the
// platform does not say). The phase split of a run is reported in CPU
// time as well as wall time: on a shared machine it is the steadier figure.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
