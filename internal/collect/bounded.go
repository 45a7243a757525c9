package collect

import "sync"

// Bounded calls fn on every item with at most n calls in flight, and returns
// the results in item order. progress, when set, is called after each item
// with the number done so far (calls are serialised).
func Bounded[T, R any](items []T, n int, fn func(T) R, progress func(done, total int)) []R {
	out := make([]R, len(items))
	if n <= 0 {
		n = 1
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = fn(it)
			if progress != nil {
				mu.Lock()
				done++
				progress(done, len(items))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}
