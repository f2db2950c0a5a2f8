package client

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// encodeBody is the JSON of a request body, without the fields that hold
// their type's zero value: a daemon decoding it into the same type gets what
// it gets from json.Marshal's full form (an absent field keeps the zero it
// would have been sent), as from docker-py, which sends only what is set.
//
// It exists for speed: json.Marshal builds, on its first use of a type, the
// encoders of every type the type reaches, set or not. For a container
// create request (Config, HostConfig with Resources, networking: a few
// hundred fields) that is most of a millisecond of a one-shot CLI. Walking
// only the values that are set costs a few microseconds.
//
// Fields are named as encoding/json names them (tags, embedded structs'
// fields promoted) and omitempty and omitzero leave out what they leave
// out. Values whose type marshals itself (json.Marshaler,
// encoding.TextMarshaler), maps with keys that are not strings, byte slices
// and structs with a ",string" field go through json.Marshal. Nil pointers,
// maps, slices and interfaces are left out as fields and written as null
// elsewhere; a non-nil empty map or slice is kept (it decodes differently
// from an absent one). encoding/json's rules for two fields with one JSON
// name are not followed: the body types have none (see the tests).
func encodeBody(v any) ([]byte, error) {
	var e bodyEncoder
	if err := e.value(reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type bodyEncoder struct {
	buf []byte
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// marshalsItself reports whether t, or a pointer to it, has its own JSON or
// text form.
func marshalsItself(t reflect.Type) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return true
	}
	if t.Kind() != reflect.Pointer {
		p := reflect.PointerTo(t)
		return p.Implements(jsonMarshaler) || p.Implements(textMarshaler)
	}
	return false
}

func (e *bodyEncoder) value(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	t := v.Type()
	if marshalsItself(t) {
		return e.marshal(v)
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(v.Elem())
	case reflect.Struct:
		return e.object(v)
	case reflect.Map:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if t.Key().Kind() != reflect.String {
			return e.marshal(v)
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.str(k.String())
			e.buf = append(e.buf, ':')
			if err := e.value(v.MapIndex(k)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	case reflect.Slice:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return e.marshal(v) // base64, as encoding/json writes []byte
		}
		fallthrough
	case reflect.Array:
		e.buf = append(e.buf, '[')
		for i := range v.Len() {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	case reflect.String:
		e.str(v.String())
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("json: unsupported value: %v", f)
		}
		e.buf = strconv.AppendFloat(e.buf, f, 'g', -1, t.Bits())
	default:
		return e.marshal(v)
	}
	return nil
}

// object writes a struct's fields that are set, under their JSON names,
// with the fields of embedded structs promoted. Unset fields, which are
// most of them, are skipped before their names are looked at.
func (e *bodyEncoder) object(v reflect.Value) error {
	start := len(e.buf)
	e.buf = append(e.buf, '{')
	ok, err := e.fields(v, true)
	if err != nil {
		return err
	}
	if !ok {
		e.buf = e.buf[:start]
		return e.marshal(v)
	}
	e.buf = append(e.buf, '}')
	return nil
}

// fields writes v's set fields; ok is false where encoding/json's own
// rules must decide (the ",string" option).
func (e *bodyEncoder) fields(v reflect.Value, first bool) (ok bool, err error) {
	t := v.Type()
	for i := range t.NumField() {
		fv := v.Field(i)
		if fv.IsZero() {
			continue
		}
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ev := fv
			if ev.Kind() == reflect.Pointer {
				ev = ev.Elem()
			}
			if ev.Kind() == reflect.Struct {
				n := len(e.buf)
				if ok, err := e.fields(ev, first); !ok || err != nil {
					return ok, err
				}
				first = first && len(e.buf) == n
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		omitEmpty, omitZero := false, false
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "string":
				return false, nil
			case "omitempty":
				omitEmpty = true
			case "omitzero":
				omitZero = true
			}
		}
		if omitted(fv, omitEmpty, omitZero) {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.str(name)
		e.buf = append(e.buf, ':')
		if err := e.value(fv); err != nil {
			return false, err
		}
	}
	return true, nil
}

// omitted reports whether encoding/json's omitempty or omitzero leaves out
// v, which is not its type's zero value.
func omitted(v reflect.Value, omitEmpty, omitZero bool) bool {
	if omitEmpty {
		switch v.Kind() {
		case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
			if v.Len() == 0 {
				return true
			}
		}
	}
	if omitZero {
		if z, ok := v.Interface().(interface{ IsZero() bool }); ok && z.IsZero() {
			return true
		}
	}
	return false
}

// marshal appends json.Marshal's form of v.
func (e *bodyEncoder) marshal(v reflect.Value) error {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return err
	}
	e.buf = append(e.buf, b...)
	return nil
}

// str appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json writes it.
func (e *bodyEncoder) str(s string) {
	const hex = "0123456789abcdef"
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				e.buf = append(e.buf, '\\', c)
			case c == '\n':
				e.buf = append(e.buf, '\\', 'n')
			case c == '\r':
				e.buf = append(e.buf, '\\', 'r')
			case c == '\t':
				e.buf = append(e.buf, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				e.buf = append(e.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				e.buf = append(e.buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			e.buf = append(e.buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			e.buf = append(e.buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			e.buf = append(e.buf, s[i:i+size]...)
		}
		i += size
	}
	e.buf = append(e.buf, '"')
}
