package connector

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// TokenCache keeps one OAuth access token and renews it five minutes
// before it expires, or at once after a 401 (Auth's refresh).
type TokenCache struct {
	mu  sync.Mutex
	tok Secret
	exp time.Time
}

// Auth returns a connector.Auth setting "Authorization: Bearer <token>",
// fetching the token with fetch when there is none, it is about to expire,
// or the server refused it.
func (c *TokenCache) Auth(now func() time.Time, fetch func(ctx context.Context, now time.Time) (Secret, time.Time, error)) Auth {
	return func(ctx context.Context, req *http.Request, refresh bool) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		t := now()
		if refresh || c.tok == "" || t.Add(5*time.Minute).After(c.exp) {
			tok, exp, err := fetch(ctx, t)
			if err != nil {
				return err
			}
			c.tok, c.exp = tok, exp
		}
		req.Header.Set("Authorization", "Bearer "+string(c.tok))
		return nil
	}
}
