package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// BinXML tokens (the 0x40 bit on some means "more follows" / "has attributes").
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEndElement   = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokCDATA        = 0x07
	tokCharRef      = 0x08
	tokEntityRef    = 0x09
	tokPITarget     = 0x0a
	tokPIData       = 0x0b
	tokTemplate     = 0x0c
	tokSubst        = 0x0d
	tokOptSubst     = 0x0e
	tokFragmentHead = 0x0f
)

// Value types of substitutions.
const (
	vtNull      = 0x00
	vtString    = 0x01
	vtAnsi      = 0x02
	vtInt8      = 0x03
	vtUint8     = 0x04
	vtInt16     = 0x05
	vtUint16    = 0x06
	vtInt32     = 0x07
	vtUint32    = 0x08
	vtInt64     = 0x09
	vtUint64    = 0x0a
	vtFloat32   = 0x0b
	vtFloat64   = 0x0c
	vtBool      = 0x0d
	vtBinary    = 0x0e
	vtGUID      = 0x0f
	vtSizeT     = 0x10
	vtFileTime  = 0x11
	vtSysTime   = 0x12
	vtSID       = 0x13
	vtHexInt32  = 0x14
	vtHexInt64  = 0x15
	vtBinXML    = 0x21
	vtArrayFlag = 0x80
)

const (
	maxNesting  = 8
	maxOps      = 4096
	maxElements = 64 // element depth in one template
)

var (
	errTruncated  = errors.New("truncated")
	errTooComplex = errors.New("record too complex (more than 65536 values)")
)

// part is a piece of a value: a literal, or substitution sub.
type part struct {
	lit []byte
	sub int // -1 for a literal
}

// op is one value a template yields: the text of an element or the value
// of an attribute.
type op struct {
	path     string // full path; for a dynamic Data name, the parent's path
	pathB    []byte
	elemPath string // the element's own path (nested BinXML goes under it)
	want     bool
	dynName  []part // <Data Name="{sub}">: the name is only known per record
	parts    []part
}

type template struct {
	ops []op
}

type subval struct {
	typ  byte
	off  int
	size int
}

// decoder decodes one record (and nested fragments) of a chunk.
type decoder struct {
	r     *Reader
	data  []byte // the chunk, cut at the end of the record
	visit Visitor
	depth int
}

func (d *decoder) u8(p int) (byte, error) {
	if p < 0 || p >= len(d.data) {
		return 0, errTruncated
	}
	return d.data[p], nil
}

func (d *decoder) u16(p int) (int, error) {
	if p < 0 || p+2 > len(d.data) {
		return 0, errTruncated
	}
	return int(binary.LittleEndian.Uint16(d.data[p:])), nil
}

func (d *decoder) u32(p int) (uint32, error) {
	if p < 0 || p+4 > len(d.data) {
		return 0, errTruncated
	}
	return binary.LittleEndian.Uint32(d.data[p:]), nil
}

// fragment decodes the fragment at p (a record's body or a nested BinXML
// value), emitting its values under prefix. subs are the enclosing
// substitutions (for direct elements, none).
func (d *decoder) fragment(p int, prefix string, subs []subval) error {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxNesting {
		return errors.New("binary XML nested too deeply")
	}
	for {
		t, err := d.u8(p)
		if err != nil {
			return err
		}
		switch t {
		case tokFragmentHead:
			p += 4
		case tokTemplate:
			np, err := d.templateInstance(p, prefix)
			if err != nil {
				return err
			}
			p = np
		case tokEOF:
			return nil
		case tokOpenStart, tokOpenStart | 0x40:
			// a direct element (no template): compile it in place and run it
			c := compiler{d: d, prefix: prefix}
			np, err := c.element(p, false)
			if err != nil {
				return err
			}
			if err := d.run(c.ops, subs, ""); err != nil {
				return err
			}
			p = np
		default:
			return fmt.Errorf("unexpected token 0x%02x at %d", t, p)
		}
	}
}

// templateInstance decodes a template instance token at p and emits its
// values; it returns the position after the substitution values.
func (d *decoder) templateInstance(p int, prefix string) (int, error) {
	def, err := d.u32(p + 6)
	if err != nil {
		return 0, err
	}
	p += 10
	if int(def) == p { // the definition follows inline
		size, err := d.u32(p + 20)
		if err != nil {
			return 0, err
		}
		p += 24 + int(size)
	}
	t, err := d.template(def)
	if err != nil {
		return 0, err
	}
	n, err := d.u32(p)
	if err != nil {
		return 0, err
	}
	if n > 4096 || p+4+int(n)*4 > len(d.data) {
		return 0, fmt.Errorf("bad substitution count %d", n)
	}
	var stack [64]subval
	subs := stack[:0]
	if n > uint32(len(stack)) {
		subs = make([]subval, 0, n)
	}
	q := p + 4 + int(n)*4
	for i := range int(n) {
		size := int(binary.LittleEndian.Uint16(d.data[p+4+i*4:]))
		typ := d.data[p+4+i*4+2]
		if q+size > len(d.data) {
			return 0, errTruncated
		}
		subs = append(subs, subval{typ: typ, off: q, size: size})
		q += size
	}
	if err := d.run(t.ops, subs, prefix); err != nil {
		return 0, err
	}
	return q, nil
}

// template returns the compiled template defined at offset def.
func (d *decoder) template(def uint32) (*template, error) {
	if t, ok := d.r.tmpl[def]; ok {
		return t, nil
	}
	if len(d.r.tmpl) >= 1024 {
		return nil, errors.New("more than 1024 templates in one chunk")
	}
	size, err := d.u32(int(def) + 20)
	if err != nil {
		return nil, err
	}
	start := int(def) + 24
	end := start + int(size)
	if end > ChunkSize || end > len(d.r.buf) {
		return nil, errors.New("template definition out of the chunk")
	}
	// a template may lie beyond the current record: decode it from the
	// whole chunk
	td := &decoder{r: d.r, data: d.r.buf[:end], visit: d.visit, depth: d.depth}
	c := compiler{d: td}
	p := start
loop:
	for p < end {
		switch td.data[p] {
		case tokFragmentHead:
			p += 4
		case tokOpenStart, tokOpenStart | 0x40:
			np, err := c.element(p, true)
			if err != nil {
				return nil, fmt.Errorf("template at %d: %w", def, err)
			}
			p = np
		default:
			break loop // EOF (or anything else) ends the definition
		}
	}
	tp := &template{ops: c.ops}
	for i := range tp.ops {
		o := &tp.ops[i]
		o.pathB = []byte(o.path)
		if o.dynName == nil {
			o.want = d.r.wanted(o.path)
		}
	}
	d.r.tmpl[def] = tp
	return tp, nil
}

// name reads a name reference at p and returns the name and the position
// after it (after the inline name structure when it is defined here).
func (d *decoder) name(p int) (string, int, error) {
	off, err := d.u32(p)
	if err != nil {
		return "", 0, err
	}
	p += 4
	nm, err := d.nameAt(off)
	if err != nil {
		return "", 0, err
	}
	if int(off) == p {
		n, _ := d.u16(p + 6)
		p += 8 + 2*n + 2
	}
	return nm, p, nil
}

func (d *decoder) nameAt(off uint32) (string, error) {
	if s, ok := d.r.names[off]; ok {
		return s, nil
	}
	b := d.r.buf
	o := int(off)
	if o < 0 || o+8 > len(b) {
		return "", errTruncated
	}
	n := int(binary.LittleEndian.Uint16(b[o+6:]))
	if o+8+2*n > len(b) {
		return "", errTruncated
	}
	s := string(appendUTF16(nil, b[o+8:o+8+2*n]))
	if len(d.r.names) < 4096 {
		d.r.names[off] = s
	}
	return s, nil
}

// compiler turns a template's element tree into ops.
type compiler struct {
	d      *decoder
	prefix string
	ops    []op
}

// element compiles the element at p (an open-start token) and its
// content; it returns the position after its end.
func (c *compiler) element(p int, depID bool) (int, error) {
	type frame struct {
		path     string
		dataName []part
		isData   bool
		hasName  bool
		text     []part
	}
	var stack []frame
	d := c.d
	for {
		t, err := d.u8(p)
		if err != nil {
			return 0, err
		}
		switch t & 0xbf {
		case tokOpenStart:
			if len(stack) >= maxElements {
				return 0, errors.New("elements nested too deeply")
			}
			hasAttr := t&0x40 != 0
			p++
			if depID {
				p += 2
			}
			p += 4 // data size
			nm, np, err := d.name(p)
			if err != nil {
				return 0, err
			}
			p = np
			if hasAttr {
				p += 4
			}
			parent := c.prefix
			if len(stack) > 0 {
				parent = stack[len(stack)-1].path
			}
			path := nm
			if parent != "" {
				path = parent + "." + nm
			}
			f := frame{path: path, isData: nm == "Data"}
			// attributes
			for {
				a, err := d.u8(p)
				if err != nil {
					return 0, err
				}
				if a&0xbf != tokAttribute {
					break
				}
				an, np, err := d.name(p + 1)
				if err != nil {
					return 0, err
				}
				parts, np, err := c.values(np)
				if err != nil {
					return 0, err
				}
				p = np
				if f.isData && an == "Name" {
					f.dataName, f.hasName = parts, true
					continue
				}
				c.add(op{path: path + "." + an, elemPath: path, parts: parts})
			}
			stack = append(stack, f)
			t2, err := d.u8(p)
			if err != nil {
				return 0, err
			}
			switch t2 {
			case tokCloseStart:
				p++
			case tokCloseEmpty:
				p++
				c.close(stack[len(stack)-1].path, stack[len(stack)-1].isData && stack[len(stack)-1].hasName, stack[len(stack)-1].dataName, nil)
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return p, nil
				}
			default:
				return 0, fmt.Errorf("unexpected token 0x%02x after start tag at %d", t2, p)
			}
		case tokEndElement:
			if len(stack) == 0 {
				return 0, fmt.Errorf("end element without start at %d", p)
			}
			p++
			f := stack[len(stack)-1]
			c.close(f.path, f.isData && f.hasName, f.dataName, f.text)
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return p, nil
			}
		case tokValue, tokSubst, tokOptSubst, tokCharRef, tokEntityRef, tokCDATA:
			if len(stack) == 0 {
				return 0, fmt.Errorf("text outside an element at %d", p)
			}
			parts, np, err := c.values(p)
			if err != nil {
				return 0, err
			}
			p = np
			stack[len(stack)-1].text = append(stack[len(stack)-1].text, parts...)
		case tokPITarget:
			_, np, err := d.name(p + 1)
			if err != nil {
				return 0, err
			}
			p = np
		case tokPIData:
			n, err := d.u16(p + 1)
			if err != nil {
				return 0, err
			}
			p += 3 + 2*n
		default:
			return 0, fmt.Errorf("unexpected token 0x%02x at %d", t, p)
		}
	}
}

// close emits the op for an element's text. A <Data Name="X"> element's
// text goes to <parent path>.X.
func (c *compiler) close(path string, named bool, dataName, text []part) {
	if len(text) == 0 && !named {
		return
	}
	if named {
		parent := path[:len(path)-len(".Data")]
		if lit, ok := literal(dataName); ok {
			c.add(op{path: parent + "." + string(lit), elemPath: path, parts: text})
		} else {
			c.add(op{path: parent, elemPath: path, dynName: dataName, parts: text})
		}
		return
	}
	c.add(op{path: path, elemPath: path, parts: text})
}

func literal(parts []part) ([]byte, bool) {
	var b []byte
	for _, p := range parts {
		if p.sub >= 0 {
			return nil, false
		}
		b = append(b, p.lit...)
	}
	return b, true
}

func (c *compiler) add(o op) {
	if len(c.ops) < maxOps {
		c.ops = append(c.ops, o)
	}
}

// values reads value tokens (text, substitutions, references) at p.
func (c *compiler) values(p int) ([]part, int, error) {
	d := c.d
	var parts []part
	for {
		t, err := d.u8(p)
		if err != nil {
			return nil, 0, err
		}
		switch t & 0xbf {
		case tokValue:
			vt, err := d.u8(p + 1)
			if err != nil {
				return nil, 0, err
			}
			if vt != vtString {
				return nil, 0, fmt.Errorf("value token of type 0x%02x at %d", vt, p)
			}
			n, err := d.u16(p + 2)
			if err != nil {
				return nil, 0, err
			}
			if p+4+2*n > len(d.data) {
				return nil, 0, errTruncated
			}
			parts = append(parts, part{lit: appendUTF16(nil, d.data[p+4:p+4+2*n]), sub: -1})
			p += 4 + 2*n
		case tokSubst, tokOptSubst:
			idx, err := d.u16(p + 1)
			if err != nil {
				return nil, 0, err
			}
			parts = append(parts, part{sub: idx})
			p += 4
		case tokCharRef:
			v, err := d.u16(p + 1)
			if err != nil {
				return nil, 0, err
			}
			parts = append(parts, part{lit: utf8.AppendRune(nil, rune(v)), sub: -1})
			p += 3
		case tokEntityRef:
			nm, np, err := d.name(p + 1)
			if err != nil {
				return nil, 0, err
			}
			parts = append(parts, part{lit: []byte(entity(nm)), sub: -1})
			p = np
		case tokCDATA:
			n, err := d.u16(p + 1)
			if err != nil {
				return nil, 0, err
			}
			if p+3+2*n > len(d.data) {
				return nil, 0, errTruncated
			}
			parts = append(parts, part{lit: appendUTF16(nil, d.data[p+3:p+3+2*n]), sub: -1})
			p += 3 + 2*n
		default:
			return parts, p, nil
		}
	}
}

func entity(name string) string {
	switch name {
	case "amp":
		return "&"
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "quot":
		return `"`
	case "apos":
		return "'"
	}
	return "&" + name + ";"
}

// run emits the ops of a template with this record's substitutions.
func (d *decoder) run(ops []op, subs []subval, prefix string) error {
	r := d.r
	for i := range ops {
		o := &ops[i]
		r.budget--
		if r.budget < 0 {
			return errTooComplex
		}
		// nested binary XML: a single substitution of type BinXML
		if len(o.parts) == 1 && o.parts[0].sub >= 0 && o.parts[0].sub < len(subs) && subs[o.parts[0].sub].typ == vtBinXML {
			s := subs[o.parts[0].sub]
			if s.size == 0 {
				continue
			}
			nd := decoder{r: r, data: d.data[:s.off+s.size], visit: d.visit, depth: d.depth}
			if err := nd.fragment(s.off, join(prefix, o.elemPath), nil); err != nil {
				return fmt.Errorf("nested binary XML: %w", err)
			}
			continue
		}
		path := o.pathB
		if o.dynName != nil {
			r.val = d.render(r.val[:0], o.dynName, subs)
			r.path = r.path[:0]
			if prefix != "" {
				r.path = append(append(r.path, prefix...), '.')
			}
			r.path = append(append(append(r.path, o.path...), '.'), r.val...)
			if !r.wanted(string(r.path)) {
				continue
			}
			path = r.path
		} else if prefix != "" {
			r.path = append(append(append(r.path[:0], prefix...), '.'), o.path...)
			if !r.wanted(string(r.path)) {
				continue
			}
			path = r.path
		} else if !o.want {
			continue
		}
		r.val = d.render(r.val[:0], o.parts, subs)
		d.visit(path, r.val)
	}
	return nil
}

func join(prefix, path string) string {
	if prefix == "" {
		return path
	}
	return prefix + "." + path
}

// render appends the text of parts.
func (d *decoder) render(b []byte, parts []part, subs []subval) []byte {
	for _, p := range parts {
		if p.sub < 0 {
			b = append(b, p.lit...)
			continue
		}
		if p.sub >= len(subs) {
			continue
		}
		s := subs[p.sub]
		b = appendValue(b, s.typ, d.data[s.off:s.off+s.size])
	}
	return b
}

// appendValue renders a substitution value as the Windows event viewer's
// XML view does.
func appendValue(b []byte, typ byte, v []byte) []byte {
	le := binary.LittleEndian
	if typ&vtArrayFlag != 0 {
		return appendArray(b, typ&^vtArrayFlag, v)
	}
	switch typ {
	case vtNull:
		return b
	case vtString:
		return appendUTF16(b, trimNUL16(v))
	case vtAnsi:
		for len(v) > 0 && v[len(v)-1] == 0 {
			v = v[:len(v)-1]
		}
		return appendLatin1(b, v)
	case vtInt8:
		if len(v) >= 1 {
			return strconv.AppendInt(b, int64(int8(v[0])), 10)
		}
	case vtUint8:
		if len(v) >= 1 {
			return strconv.AppendUint(b, uint64(v[0]), 10)
		}
	case vtInt16:
		if len(v) >= 2 {
			return strconv.AppendInt(b, int64(int16(le.Uint16(v))), 10)
		}
	case vtUint16:
		if len(v) >= 2 {
			return strconv.AppendUint(b, uint64(le.Uint16(v)), 10)
		}
	case vtInt32:
		if len(v) >= 4 {
			return strconv.AppendInt(b, int64(int32(le.Uint32(v))), 10)
		}
	case vtUint32:
		if len(v) >= 4 {
			return strconv.AppendUint(b, uint64(le.Uint32(v)), 10)
		}
	case vtInt64:
		if len(v) >= 8 {
			return strconv.AppendInt(b, int64(le.Uint64(v)), 10)
		}
	case vtUint64:
		if len(v) >= 8 {
			return strconv.AppendUint(b, le.Uint64(v), 10)
		}
	case vtFloat32:
		if len(v) >= 4 {
			return strconv.AppendFloat(b, float64(math.Float32frombits(le.Uint32(v))), 'g', -1, 32)
		}
	case vtFloat64:
		if len(v) >= 8 {
			return strconv.AppendFloat(b, math.Float64frombits(le.Uint64(v)), 'g', -1, 64)
		}
	case vtBool:
		if len(v) >= 1 {
			if allZero(v) {
				return append(b, "false"...)
			}
			return append(b, "true"...)
		}
	case vtBinary:
		return appendHexUpper(b, v)
	case vtGUID:
		if len(v) >= 16 {
			return appendGUID(b, v)
		}
	case vtSizeT, vtHexInt32, vtHexInt64:
		var n uint64
		switch {
		case len(v) >= 8:
			n = le.Uint64(v)
		case len(v) >= 4:
			n = uint64(le.Uint32(v))
		default:
			return b
		}
		b = append(b, "0x"...)
		return strconv.AppendUint(b, n, 16)
	case vtFileTime:
		if len(v) >= 8 {
			ft := le.Uint64(v) // 100 ns since 1601, rendered as Windows does (1601-01-01T00:00:00.0000000Z for 0)
			t := time.Unix(int64(ft/1e7)-11644473600, int64(ft%1e7)*100).UTC()
			return t.AppendFormat(b, "2006-01-02T15:04:05.0000000Z")
		}
	case vtSysTime:
		if len(v) >= 16 {
			t := time.Date(int(le.Uint16(v)), time.Month(le.Uint16(v[2:])), int(le.Uint16(v[6:])), int(le.Uint16(v[8:])),
				int(le.Uint16(v[10:])), int(le.Uint16(v[12:])), int(le.Uint16(v[14:]))*1e6, time.UTC)
			return t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
		}
	case vtSID:
		return appendSID(b, v)
	default:
		return appendHexUpper(b, v)
	}
	return b
}

func appendArray(b []byte, typ byte, v []byte) []byte {
	if typ == vtString {
		// NUL-separated UTF-16 strings
		first := true
		for len(v) >= 2 {
			i := 0
			for i+1 < len(v) && (v[i] != 0 || v[i+1] != 0) {
				i += 2
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendUTF16(b, v[:i])
			if i+2 > len(v) {
				break
			}
			v = v[i+2:]
		}
		return b
	}
	size := map[byte]int{vtInt8: 1, vtUint8: 1, vtInt16: 2, vtUint16: 2, vtInt32: 4, vtUint32: 4, vtInt64: 8, vtUint64: 8,
		vtFloat32: 4, vtFloat64: 8, vtBool: 4, vtGUID: 16, vtFileTime: 8, vtSysTime: 16, vtHexInt32: 4, vtHexInt64: 8}[typ]
	if size == 0 {
		return appendHexUpper(b, v)
	}
	for i := 0; i+size <= len(v); i += size {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendValue(b, typ, v[i:i+size])
	}
	return b
}

func trimNUL16(v []byte) []byte {
	for len(v) >= 2 && v[len(v)-1] == 0 && v[len(v)-2] == 0 {
		v = v[:len(v)-2]
	}
	return v
}

// appendUTF16 appends UTF-16LE bytes as UTF-8; ASCII is copied directly.
func appendUTF16(b, v []byte) []byte {
	for i := 0; i+1 < len(v); i += 2 {
		c := uint16(v[i]) | uint16(v[i+1])<<8
		switch {
		case c < 0x80:
			b = append(b, byte(c))
		case utf16.IsSurrogate(rune(c)) && i+3 < len(v):
			c2 := uint16(v[i+2]) | uint16(v[i+3])<<8
			r := utf16.DecodeRune(rune(c), rune(c2))
			if r != utf8.RuneError {
				i += 2
			}
			b = utf8.AppendRune(b, r)
		default:
			b = utf8.AppendRune(b, rune(c))
		}
	}
	return b
}

func appendLatin1(b, v []byte) []byte {
	for _, c := range v {
		if c < 0x80 {
			b = append(b, c)
		} else {
			b = utf8.AppendRune(b, rune(c))
		}
	}
	return b
}

const hexUpper = "0123456789ABCDEF"

func appendHexUpper(b, v []byte) []byte {
	for _, c := range v {
		b = append(b, hexUpper[c>>4], hexUpper[c&15])
	}
	return b
}

func appendGUID(b, v []byte) []byte {
	le := binary.LittleEndian
	b = append(b, '{')
	b = appendHexN(b, uint64(le.Uint32(v)), 8)
	b = append(b, '-')
	b = appendHexN(b, uint64(le.Uint16(v[4:])), 4)
	b = append(b, '-')
	b = appendHexN(b, uint64(le.Uint16(v[6:])), 4)
	b = append(b, '-')
	b = appendHexUpper(b, v[8:10])
	b = append(b, '-')
	b = appendHexUpper(b, v[10:16])
	return append(b, '}')
}

func appendHexN(b []byte, n uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hexUpper[(n>>(4*uint(i)))&15])
	}
	return b
}

// appendSID renders a binary SID as S-R-I-S-S...
func appendSID(b, v []byte) []byte {
	if len(v) < 8 {
		return b
	}
	n := int(v[1])
	if len(v) < 8+4*n {
		return b
	}
	b = append(b, "S-"...)
	b = strconv.AppendUint(b, uint64(v[0]), 10)
	var auth uint64
	for _, c := range v[2:8] {
		auth = auth<<8 | uint64(c)
	}
	b = append(b, '-')
	b = strconv.AppendUint(b, auth, 10)
	for i := range n {
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(v[8+4*i:])), 10)
	}
	return b
}
