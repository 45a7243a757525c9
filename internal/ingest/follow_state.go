package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
)

// followState is where Follow left each file, kept in Options.FollowState
// so a restarted tail reads on from there: neither again from the start
// (duplicates) nor from the end (losses). A file is recognised by its
// identity (device and inode), so one rotated while the tail was down is
// read on under its new name, and a new file under the old name is read
// from its start. Text files keep the byte offset after the last complete
// record delivered; .evtx files keep the last record number delivered.
type followState struct {
	Files []statePos `json:"files"`
	// Prints are the starts of the plain files read (follow_gzip.go), so
	// an archive of one made while the tail was down is not read.
	Prints []string `json:"prints,omitempty"`
}

type statePos struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset,omitempty"`
	Record int64  `json:"record,omitempty"` // .evtx: last record number delivered
}

func loadFollowState(path string) (*followState, error) {
	st := &followState{}
	if path == "" {
		return st, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading tail positions: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		// a damaged state must not stop the tail: start over, said once
		return &followState{}, fmt.Errorf("tail positions %s: %w (ignored)", path, err)
	}
	return st, nil
}

// lookup finds the saved position of the file fi: by identity.
func (st *followState) lookup(fi os.FileInfo) (statePos, bool) {
	dev, ino, ok := fileID(fi)
	if !ok || st == nil {
		return statePos{}, false
	}
	i := slices.IndexFunc(st.Files, func(p statePos) bool { return p.Dev == dev && p.Ino == ino })
	if i < 0 {
		return statePos{}, false
	}
	return st.Files[i], true
}

// restore positions a just opened file where the state left it.
func (fl *followed) restore(st *followState) error {
	if fl.src == nil || fl.fi == nil {
		return nil
	}
	p, ok := st.lookup(fl.fi)
	if !ok {
		return nil
	}
	if p.Record > 0 {
		fl.lastRec = p.Record
		return nil
	}
	if p.Offset <= 0 || p.Offset > fl.fi.Size() {
		return nil // truncated meanwhile: from the start
	}
	if _, err := fl.src.f.Seek(p.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("following %s: %w", fl.path, err)
	}
	fl.src.off = p.Offset
	return nil
}

// position is where the next record of fl starts.
func (fl *followed) position() (statePos, bool) {
	if fl.src == nil || fl.fi == nil {
		return statePos{}, false
	}
	dev, ino, ok := fileID(fl.fi)
	if !ok {
		return statePos{}, false
	}
	p := statePos{Path: fl.path, Dev: dev, Ino: ino}
	switch {
	case fl.evtx:
		p.Record = fl.lastRec
	case fl.r != nil && fl.r.lines != nil:
		p.Offset = fl.base + fl.r.lines.pos
	default:
		p.Offset = fl.src.off
	}
	return p, true
}

// save writes the positions of the files followed now (and of files
// rotated away but not yet found again), when they changed.
func (ts *tailSet) save(path string, last *[]byte) error {
	if path == "" {
		return nil
	}
	var st followState
	for _, fl := range ts.files {
		if p, ok := fl.position(); ok {
			st.Files = append(st.Files, p)
		}
	}
	for _, r := range ts.retired {
		if dev, ino, ok := fileID(r.fi); ok {
			st.Files = append(st.Files, statePos{Dev: dev, Ino: ino, Offset: r.off, Record: r.lastRec})
		}
	}
	st.Prints = ts.prints.list
	b, err := json.Marshal(&st)
	if err != nil {
		return err
	}
	if string(b) == string(*last) {
		return nil
	}
	if err := atomicfile.WriteBytes(path, 0o600, b); err != nil {
		return fmt.Errorf("saving tail positions: %w", err)
	}
	*last = b
	return nil
}
