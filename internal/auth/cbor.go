package auth

import (
	"encoding/binary"
	"errors"
)

// A minimal CBOR (RFC 8949) decoder for WebAuthn attestation objects and
// COSE keys: unsigned and negative integers, byte and text strings, arrays,
// maps and the simple values false, true and null. Indefinite lengths,
// tags and floats are refused (authenticators do not use them here).

var errCBOR = errors.New("malformed CBOR")

const cborMaxItems = 1 << 12

type cborDecoder struct {
	b     []byte
	depth int
}

// decodeCBOR decodes one item from b and returns it with the bytes left.
// Values: uint64, int64 (negative), []byte, string, []any, map[any]any,
// bool, nil.
func decodeCBOR(b []byte) (any, []byte, error) {
	d := &cborDecoder{b: b}
	v, err := d.item()
	return v, d.b, err
}

func (d *cborDecoder) head() (major byte, arg uint64, err error) {
	if len(d.b) < 1 {
		return 0, 0, errCBOR
	}
	ib := d.b[0]
	d.b = d.b[1:]
	major, info := ib>>5, ib&0x1f
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info == 24:
		if len(d.b) < 1 {
			return 0, 0, errCBOR
		}
		arg = uint64(d.b[0])
		d.b = d.b[1:]
	case info == 25:
		if len(d.b) < 2 {
			return 0, 0, errCBOR
		}
		arg = uint64(binary.BigEndian.Uint16(d.b))
		d.b = d.b[2:]
	case info == 26:
		if len(d.b) < 4 {
			return 0, 0, errCBOR
		}
		arg = uint64(binary.BigEndian.Uint32(d.b))
		d.b = d.b[4:]
	case info == 27:
		if len(d.b) < 8 {
			return 0, 0, errCBOR
		}
		arg = binary.BigEndian.Uint64(d.b)
		d.b = d.b[8:]
	default:
		return 0, 0, errCBOR // indefinite lengths and reserved values
	}
	return major, arg, nil
}

func (d *cborDecoder) item() (any, error) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > 16 {
		return nil, errCBOR
	}
	major, arg, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case 0:
		return arg, nil
	case 1:
		if arg > 1<<62 {
			return nil, errCBOR
		}
		return -1 - int64(arg), nil
	case 2, 3:
		if arg > uint64(len(d.b)) {
			return nil, errCBOR
		}
		s := d.b[:arg]
		d.b = d.b[arg:]
		if major == 3 {
			return string(s), nil
		}
		return append([]byte(nil), s...), nil
	case 4:
		if arg > cborMaxItems {
			return nil, errCBOR
		}
		out := make([]any, 0, arg)
		for range arg {
			v, err := d.item()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case 5:
		if arg > cborMaxItems {
			return nil, errCBOR
		}
		out := make(map[any]any, arg)
		for range arg {
			k, err := d.item()
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case uint64, int64, string:
			default:
				return nil, errCBOR // only scalar keys
			}
			v, err := d.item()
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case 7:
		switch arg {
		case 20:
			return false, nil
		case 21:
			return true, nil
		case 22:
			return nil, nil
		}
	}
	return nil, errCBOR
}

// cborInt reads an integer map key or value as int64.
func cborInt(v any) (int64, bool) {
	switch x := v.(type) {
	case uint64:
		if x > 1<<62 {
			return 0, false
		}
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// cborLookup finds an integer key in a COSE map.
func cborLookup(m map[any]any, key int64) (any, bool) {
	for k, v := range m {
		if n, ok := cborInt(k); ok && n == key {
			return v, true
		}
	}
	return nil, false
}
