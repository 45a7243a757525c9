package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func urlPathEscape(s string) string { return url.PathEscape(s) }

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
