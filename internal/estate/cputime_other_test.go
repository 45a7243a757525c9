//go:build !unix

package estate

func cpuSeconds() float64 { return 0 }
