package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// Large reports (hundreds of thousands of results) are written as a stream:
// the document is encoded with its big arrays left null, and each null is
// replaced by the array written one element at a time. The bytes are those
// json.Encoder with SetIndent("", "  ") would produce for the whole value,
// without holding the whole document in memory.

// splice names a null-valued key of the skeleton and the array to put there.
type splice struct {
	key  string
	n    int
	item func(i int) any
	// concurrent: item may be called from several goroutines at once, so
	// large arrays are encoded on every core (in batches, written in
	// order: the same bytes).
	concurrent bool
}

// spliceBatch is how many elements one goroutine encodes at a time.
const spliceBatch = 256

func writeSpliced(w io.Writer, skeleton any, splices ...splice) error {
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(skeleton); err != nil {
		return err
	}
	doc := head.Bytes()
	var item bytes.Buffer
	ienc := json.NewEncoder(&item)
	ienc.SetEscapeHTML(false)
	for _, sp := range splices {
		marker := []byte(`"` + sp.key + `": null`)
		at := bytes.Index(doc, marker)
		if at < 0 {
			if sp.n == 0 {
				continue // the skeleton omitted the empty array
			}
			return fmt.Errorf("internal error: no %q placeholder", sp.key)
		}
		indent := 0
		for i := at - 1; i >= 0 && doc[i] == ' '; i-- {
			indent++
		}
		valueAt := at + len(marker) - len("null")
		if _, err := w.Write(doc[:valueAt]); err != nil {
			return err
		}
		doc = doc[at+len(marker):]
		if sp.n == 0 {
			if _, err := io.WriteString(w, "[]"); err != nil {
				return err
			}
			continue
		}
		inner := make([]byte, indent+2)
		for i := range inner {
			inner[i] = ' '
		}
		ienc.SetIndent(string(inner), "  ")
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
		if workers := runtime.GOMAXPROCS(0); sp.concurrent && workers > 1 && sp.n > 2*spliceBatch {
			if err := writeItemsConcurrently(w, sp, string(inner), workers); err != nil {
				return err
			}
		} else {
			for i := 0; i < sp.n; i++ {
				item.Reset()
				if err := encodeItem(&item, ienc, inner, i, sp.item(i)); err != nil {
					return err
				}
				if _, err := w.Write(item.Bytes()); err != nil {
					return err
				}
			}
		}
		if _, err := io.WriteString(w, "\n"+string(inner[:indent])+"]"); err != nil {
			return err
		}
	}
	_, err := w.Write(doc)
	return err
}

// encodeItem appends element i of an array (its separator, newline and
// indent, then the value without the encoder's trailing newline) to buf.
func encodeItem(buf *bytes.Buffer, enc *json.Encoder, inner []byte, i int, v any) error {
	if i > 0 {
		buf.WriteByte(',')
	}
	buf.WriteByte('\n')
	buf.Write(inner)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // the newline Encode adds
	return nil
}

// writeItemsConcurrently writes sp's elements as the sequential loop does:
// rounds of workers×4 batches are encoded side by side, then written in
// order, so memory stays bounded by one round's output.
func writeItemsConcurrently(w io.Writer, sp splice, inner string, workers int) error {
	nb := (sp.n + spliceBatch - 1) / spliceBatch
	round := workers * 4
	bufs := make([]bytes.Buffer, round)
	errs := make([]error, round)
	for first := 0; first < nb; first += round {
		last := min(first+round, nb)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(workers, last-first) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				innerB := []byte(inner)
				for {
					k := int(next.Add(1)) - 1
					if first+k >= last {
						return
					}
					buf := &bufs[k]
					buf.Reset()
					enc := json.NewEncoder(buf)
					enc.SetEscapeHTML(false)
					enc.SetIndent(inner, "  ")
					lo := (first + k) * spliceBatch
					for i := lo; i < min(lo+spliceBatch, sp.n); i++ {
						if errs[k] = encodeItem(buf, enc, innerB, i, sp.item(i)); errs[k] != nil {
							break
						}
					}
				}
			}()
		}
		wg.Wait()
		for k := range last - first {
			if errs[k] != nil {
				return errs[k]
			}
			if _, err := w.Write(bufs[k].Bytes()); err != nil {
				return err
			}
		}
	}
	return nil
}
