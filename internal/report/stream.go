package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
}

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
		for i := 0; i < sp.n; i++ {
			item.Reset()
			if i > 0 {
				item.WriteByte(',')
			}
			item.WriteByte('\n')
			item.Write(inner)
			if err := ienc.Encode(sp.item(i)); err != nil {
				return err
			}
			b := bytes.TrimSuffix(item.Bytes(), []byte{'\n'})
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, "\n"+string(inner[:indent])+"]"); err != nil {
			return err
		}
	}
	_, err := w.Write(doc)
	return err
}
