package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func urlPathEscape(s string) string { return url.PathEscape(s) }

// severityRank orders severities: critical 4 … info 0.
func severityRank(s string) int {
	switch strings.ToLower(s) {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium":
		return 2
	case "low":
		return 1
	}
	return 0
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
