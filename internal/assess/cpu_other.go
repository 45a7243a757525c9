//go:build !unix

package assess

import "time"

// ProcessCPU is the process's user+system CPU time so far; zero on this
// platform.
func ProcessCPU() time.Duration { return 0 }
