// Package suggest finds the "did you mean" candidate for a mistyped key or
// value: the closest known word by edit distance. The estate decoder and
// the service configuration loader use it; it imports nothing of ours.
package suggest

import "strings"

// Closest returns the option nearest to s (case-insensitive Levenshtein
// distance), or "" when none is within maxDist. A case-only difference is
// always a match.
func Closest(s string, options []string, maxDist int) string {
	best, bestD := "", maxDist+1
	ls := strings.ToLower(s)
	for _, o := range options {
		lo := strings.ToLower(o)
		if lo == ls {
			return o
		}
		if d := Distance(ls, lo); d < bestD {
			best, bestD = o, d
		}
	}
	return best
}

// Distance is the Levenshtein distance of a and b, in bytes; strings over
// 256 bytes are never close (a large distance, no quadratic work).
func Distance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
