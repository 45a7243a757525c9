// Package kevupdate downloads the CISA KEV feed into a data directory (the
// network side of internal/collect/kev, kept apart so the engines that read
// catalogs do not import net/http).
package kevupdate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/useragent"
)

// DefaultURL is CISA's official KEV JSON feed.
const DefaultURL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"

// Updater downloads the feed into a data directory.
type Updater struct {
	Client  *http.Client // nil: a client with a 60 s timeout
	URL     string       // "" means DefaultURL
	DataDir string
	Force   bool // replace even with an older catalog, ignore the stored ETag
	Log     *slog.Logger
	Now     func() time.Time
	// UserAgent is sent with the request.
	UserAgent string
}

// UpdateResult reports what Update did.
type UpdateResult struct {
	Path        string       `json:"path"`
	URL         string       `json:"url"`
	NotModified bool         `json:"not_modified"`
	Replaced    bool         `json:"replaced"`
	Previous    string       `json:"previous_version,omitempty"`
	Version     string       `json:"catalog_version"`
	Count       int          `json:"count"`
	Bytes       int          `json:"bytes"`
	Warnings    []string     `json:"warnings,omitempty"`
	Catalog     *kev.Catalog `json:"-"`
}

// ErrOlderCatalog is returned when the download is older than the stored
// catalog (a stale mirror or a replayed response); Force overrides it.
var ErrOlderCatalog = errors.New("downloaded KEV catalog is older than the stored one")

// Update fetches the feed with a conditional GET (If-None-Match /
// If-Modified-Since from the last download), checks the schema and only
// then atomically replaces the stored catalog. On any error the stored
// catalog is left as it was.
func (u *Updater) Update(ctx context.Context) (UpdateResult, error) {
	url := u.URL
	if url == "" {
		url = DefaultURL
	}
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	log := u.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := u.Client
	if client == nil {
		client = useragent.Client(&http.Client{Timeout: 60 * time.Second})
	}
	path := kev.StoredPath(u.DataDir)
	res := UpdateResult{Path: path, URL: url}
	var old *kev.Catalog
	var meta kev.Meta
	if c, err := kev.Load(path); err == nil {
		old = c
		res.Previous = c.CatalogVersion
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(path), kev.MetaName)); err == nil {
			_ = json.Unmarshal(b, &meta)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn("stored KEV catalog unreadable; downloading afresh", "path", path, "err", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return res, fmt.Errorf("kev update: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if u.UserAgent != "" {
		req.Header.Set("User-Agent", u.UserAgent)
	}
	if old != nil && !u.Force && meta.URL == url {
		if meta.ETag != "" {
			req.Header.Set("If-None-Match", meta.ETag)
		}
		if meta.LastModified != "" {
			req.Header.Set("If-Modified-Since", meta.LastModified)
		}
	}
	log.Debug("kev update: GET", "url", url, "if_none_match", req.Header.Get("If-None-Match"))
	resp, err := client.Do(req)
	if err != nil {
		return res, fmt.Errorf("kev update: fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		if old == nil {
			return res, fmt.Errorf("kev update: %s answered 304 Not Modified but no catalog is stored", url)
		}
		meta.CheckedAt = now().UTC()
		if err := kev.WriteMeta(path, meta); err != nil {
			return res, err
		}
		res.NotModified = true
		res.Version, res.Count, res.Catalog = old.CatalogVersion, len(old.Vulns), old
		return res, nil
	case resp.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return res, fmt.Errorf("kev update: %s: HTTP %s: %s", url, resp.Status, oneLine(b))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, kev.MaxCatalog+1))
	if err != nil {
		return res, fmt.Errorf("kev update: reading %s: %w", url, err)
	}
	if len(body) > kev.MaxCatalog {
		return res, fmt.Errorf("kev update: %s: response larger than %d bytes", url, kev.MaxCatalog)
	}
	if resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
		return res, fmt.Errorf("kev update: %s: body truncated (%d of %d bytes)", url, len(body), resp.ContentLength)
	}
	c, err := kev.Parse(bytes.NewReader(body), url)
	if err != nil {
		return res, fmt.Errorf("kev update: downloaded catalog rejected, stored one kept: %w", err)
	}
	if old != nil && !u.Force && c.DateReleased.Before(old.DateReleased) {
		return res, fmt.Errorf("kev update: %s (released %s) vs stored %s (released %s): %w",
			c.CatalogVersion, c.DateReleased.Format(time.RFC3339), old.CatalogVersion, old.DateReleased.Format(time.RFC3339), ErrOlderCatalog)
	}
	if err := kev.WriteAtomic(path, body); err != nil {
		return res, err
	}
	t := now().UTC()
	meta = kev.Meta{URL: url, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
		FetchedAt: t, CheckedAt: t, Version: c.CatalogVersion, Count: len(c.Vulns)}
	if err := kev.WriteMeta(path, meta); err != nil {
		return res, err
	}
	c.Name = path
	res.Replaced = true
	res.Version, res.Count, res.Bytes, res.Warnings, res.Catalog = c.CatalogVersion, len(c.Vulns), len(body), c.Warnings, c
	return res, nil
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(b, nil))), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
