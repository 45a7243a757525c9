//go:build !linux

package main

// lowerPriority is Linux only; elsewhere the process keeps its priority.
func lowerPriority() error { return nil }
