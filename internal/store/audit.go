package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// GenesisHash is the PrevHash of the first audit entry.
var GenesisHash = strings.Repeat("0", 64)

// Canonical is the byte string an entry's hash covers: every field except
// the hashes, each as a length-prefixed UTF-8 string (so no field can bleed
// into the next), the time as RFC 3339 UTC with microseconds, Detail as
// compact JSON.
func (e *AuditEntry) Canonical() []byte {
	var b bytes.Buffer
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte(';')
	}
	field("firebreak-audit-v1")
	field(strconv.FormatInt(e.Seq, 10))
	field(e.At.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"))
	field(e.Actor)
	field(e.Action)
	field(e.Target)
	field(e.Tenant)
	field(e.IP)
	field(string(CompactJSON(e.Detail)))
	return b.Bytes()
}

// ChainHash is hex(SHA-256(prevHash || canonical)) where prevHash is the
// previous entry's hex hash as ASCII.
func ChainHash(prevHash string, e *AuditEntry) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(e.Canonical())
	return hex.EncodeToString(h.Sum(nil))
}

// CompactJSON returns raw compacted; invalid or empty input yields nil.
func CompactJSON(raw json.RawMessage) []byte {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil
	}
	return b.Bytes()
}

// HashToken is the hex SHA-256 of a session or API token, the only form in
// which tokens are stored.
func HashToken(raw Secret) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}
