package connector

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// TokenSource fetches and caches an OAuth 2.0 access token from a token
// endpoint (client credentials for NinjaOne and Microsoft Entra, the
// password grant Datto RMM uses for its API key and secret). The token is
// reused until a minute before it expires, or until a call answered 401
// (Auth with refresh=true). Safe for concurrent use: one fetch at a time.
type TokenSource struct {
	Client *Client
	URL    string     // token endpoint
	Form   url.Values // grant_type, client_id, client_secret, scope, …
	// BasicUser and BasicPass, when set, authenticate the token request
	// with HTTP Basic (Datto RMM's public-client).
	BasicUser, BasicPass string
	Tenant               string // for errors
	Permission           string // named when the endpoint refuses the credentials

	mu  sync.Mutex
	tok Secret
	exp time.Time
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// Token returns a valid access token, fetching one when there is none, it
// is about to expire, or refresh is set.
func (t *TokenSource) Token(ctx context.Context, refresh bool) (Secret, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Client.now()
	if !refresh && t.tok != "" && now.Before(t.exp) {
		return t.tok, nil
	}
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if t.BasicUser != "" {
		req, _ := http.NewRequest(http.MethodPost, t.URL, nil)
		req.SetBasicAuth(t.BasicUser, t.BasicPass)
		hdr.Set("Authorization", req.Header.Get("Authorization"))
	}
	var ans tokenAnswer
	_, err := t.Client.JSON(ctx, CallSpec{Tenant: t.Tenant, Method: http.MethodPost, URL: t.URL,
		Body: []byte(t.Form.Encode()), Header: hdr, Permission: t.Permission}, &ans)
	if err != nil {
		return "", fmt.Errorf("getting an access token: %w", err)
	}
	if ans.AccessToken == "" {
		return "", fmt.Errorf("getting an access token from %s: the answer has no access_token", pathOf(t.URL))
	}
	life := time.Duration(ans.ExpiresIn) * time.Second
	if life <= 0 {
		life = 5 * time.Minute
	}
	t.tok, t.exp = Secret(ans.AccessToken), now.Add(life-min(time.Minute, life/2))
	return t.tok, nil
}

// Auth is an Auth that sets "Authorization: Bearer <token>".
func (t *TokenSource) Auth() Auth {
	return func(ctx context.Context, req *http.Request, refresh bool) error {
		tok, err := t.Token(ctx, refresh)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+string(tok))
		return nil
	}
}

// JoinURL joins a base URL (scheme and host, maybe a path) and a path.
func JoinURL(base, path string) string {
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}
