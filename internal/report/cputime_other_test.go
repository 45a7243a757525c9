//go:build !unix

package report

func cpuSeconds() float64 { return 0 }
