package ingest

import (
	"maps"
	"slices"
	"sort"
)

func slicesSort(s []string) { sort.Strings(s) }

func slicesSorted[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
