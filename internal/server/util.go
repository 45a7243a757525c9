package server

import (
	"encoding/json"
	"errors"
	"net/url"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func urlPathEscape(s string) string { return url.PathEscape(s) }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
