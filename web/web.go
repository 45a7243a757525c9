// Package web holds the dashboard's HTML templates and static assets,
// embedded so the binary serves them offline with no CDN. Only
// internal/server imports it.
package web

import "embed"

// Templates holds templates/*.html: layout.html plus one file per page.
//
//go:embed templates/*.html
var Templates embed.FS

// Static holds static/* (CSS, JavaScript, icons), served under /static/.
//
//go:embed static
var Static embed.FS
