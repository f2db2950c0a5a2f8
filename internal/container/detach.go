package container

import (
	"errors"
	"io"
	"strings"

	"github.com/berth-engine/berth/internal/errdefs"
)

// ErrDetached ends an attach when the client typed the detach keys.
var ErrDetached = errors.New("detached from container")

// defaultDetachKeys is ctrl-p ctrl-q.
var defaultDetachKeys = []byte{16, 17}

// ParseDetachKeys reads docker's --detach-keys: comma-separated "ctrl-<x>"
// (x in a-z, @, [, \, ], ^, _) or single characters.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return defaultDetachKeys, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(strings.ToLower(k), "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				out = append(out, c-'A'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, errdefs.InvalidParameterf("Unknown character: '%s'", k)
			}
		default:
			return nil, errdefs.InvalidParameterf("Unknown character: '%s'", k)
		}
	}
	return out, nil
}

// detachReader passes input through until the detach sequence appears,
// then returns ErrDetached. Bytes that start a sequence are held back until
// it is clear whether the whole sequence follows.
type detachReader struct {
	r       io.Reader
	keys    []byte
	held    []byte
	out     []byte
	err     error
	scratch [32 << 10]byte
}

func newDetachReader(r io.Reader, keys []byte) *detachReader {
	return &detachReader{r: r, keys: keys}
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			if len(d.held) > 0 && d.err != ErrDetached {
				d.out, d.held = d.held, nil
				break
			}
			return 0, d.err
		}
		n, err := d.r.Read(d.scratch[:])
		d.feed(d.scratch[:n])
		if err != nil && d.err == nil {
			d.err = err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func (d *detachReader) feed(b []byte) {
	if len(d.keys) == 0 {
		d.out = append(d.out, b...)
		return
	}
	for _, c := range b {
		if d.err == ErrDetached {
			return
		}
		if c == d.keys[len(d.held)] {
			d.held = append(d.held, c)
			if len(d.held) == len(d.keys) {
				d.held = nil
				d.err = ErrDetached
			}
			continue
		}
		if len(d.held) > 0 {
			d.out = append(d.out, d.held...)
			d.held = nil
			if c == d.keys[0] {
				d.held = append(d.held, c)
				continue
			}
		}
		d.out = append(d.out, c)
	}
}
