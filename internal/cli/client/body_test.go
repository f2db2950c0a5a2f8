package client

import (
	"encoding"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/volume"
)

// Every type the client sends as a JSON body: a daemon must decode
// encodeBody's form into what it decodes json.Marshal's form into.
var bodyTypes = []reflect.Type{
	reflect.TypeFor[container.CreateRequest](),
	reflect.TypeFor[container.UpdateConfig](),
	reflect.TypeFor[container.ExecCreateRequest](),
	reflect.TypeFor[container.ExecStartRequest](),
	reflect.TypeFor[registry.AuthConfig](),
	reflect.TypeFor[network.CreateRequest](),
	reflect.TypeFor[network.ConnectRequest](),
	reflect.TypeFor[network.DisconnectRequest](),
	reflect.TypeFor[volume.CreateRequest](),
}

func TestEncodeBodyDecodesAsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range bodyTypes {
		t.Run(typ.String(), func(t *testing.T) {
			for i := range 300 {
				v := reflect.New(typ)
				// The first value is all zero; then fewer and fewer
				// fields are set.
				if i > 0 {
					fill(r, v.Elem(), 0, float64(i%10)/10)
				}
				std, err := json.Marshal(v.Interface())
				if err != nil {
					t.Fatalf("json.Marshal: %v", err)
				}
				got, err := encodeBody(v.Interface())
				if err != nil {
					t.Fatalf("encodeBody: %v\njson.Marshal: %s", err, std)
				}
				if !json.Valid(got) {
					t.Fatalf("not JSON: %s", got)
				}
				want, have := reflect.New(typ), reflect.New(typ)
				if err := json.Unmarshal(std, want.Interface()); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(got, have.Interface()); err != nil {
					t.Fatalf("decoding %s: %v", got, err)
				}
				if !reflect.DeepEqual(want.Interface(), have.Interface()) {
					t.Fatalf("decoded differently:\njson.Marshal: %s\nencodeBody:   %s", std, got)
				}
				if len(got) > len(std) {
					t.Fatalf("longer than json.Marshal's:\n%s\n%s", got, std)
				}
			}
		})
	}
}

func TestEncodeBodyLeavesOutUnset(t *testing.T) {
	f := false
	got, err := encodeBody(container.CreateRequest{
		Config:           &container.Config{Image: "img", Cmd: []string{"true"}, Env: []string{}},
		HostConfig:       &container.HostConfig{AutoRemove: true, Resources: container.Resources{OomKillDisable: &f}},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"none": nil}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Env is an empty list, not unset; OomKillDisable points to false.
	const want = `{"Env":[],"Cmd":["true"],"Image":"img","HostConfig":{"AutoRemove":true,"OomKillDisable":false},"NetworkingConfig":{"EndpointsConfig":{"none":null}}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestEncodeBodyStrings(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "\x00\x1f\t\n\r", "<&>", "é€😀", "\u2028\u2029", "bad\xffutf8\xc3"} {
		got, err := encodeBody(s)
		if err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(s)
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%q: %s: %v", s, got, err)
		}
		_ = json.Unmarshal(std, &b)
		if a != b {
			t.Errorf("%q: decoded %q, json.Marshal's form decodes to %q", s, a, b)
		}
	}
}

// encodeBody writes the set fields of a struct and of the structs it
// embeds without encoding/json's rules for two fields with one JSON name
// (the shallower or the tagged one wins, or both are dropped): no body type
// may have such fields.
func TestBodyTypesHaveUniqueJSONNames(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var check func(t *testing.T, typ reflect.Type)
	check = func(t *testing.T, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
			if typ.Kind() == reflect.Map {
				check(t, typ.Key())
			}
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		names := map[string]string{}
		var walk func(typ reflect.Type, path string)
		walk = func(typ reflect.Type, path string) {
			for i := range typ.NumField() {
				sf := typ.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
					walk(ft, path+sf.Name+".")
					continue
				}
				if !sf.IsExported() {
					continue
				}
				if name == "" {
					name = sf.Name
				}
				if prev, ok := names[name]; ok {
					t.Errorf("%s: %s and %s%s are both %q in JSON", typ, prev, path, sf.Name, name)
				}
				names[name] = path + sf.Name
				check(t, sf.Type)
			}
		}
		walk(typ, "")
	}
	for _, typ := range bodyTypes {
		check(t, typ)
	}
	if len(seen) < 20 {
		t.Fatalf("only %d struct types reached", len(seen))
	}
}

type zeroer struct{ N int }

func (z zeroer) IsZero() bool { return z.N < 0 }

func TestEncodeBodyOmitZero(t *testing.T) {
	type withOmit struct {
		A zeroer `json:"a,omitzero"`
		B zeroer `json:"b"`
		C []int  `json:"c,omitempty"`
		D []int  `json:"d"`
	}
	v := withOmit{A: zeroer{-1}, B: zeroer{-1}, C: []int{}, D: []int{}}
	got, err := encodeBody(v)
	if err != nil {
		t.Fatal(err)
	}
	std, _ := json.Marshal(v)
	if string(got) != `{"b":{"N":-1},"d":[]}` || string(std) != string(got) {
		t.Fatalf("got %s, json.Marshal %s", got, std)
	}
}

// samples are texts tried on types that decode themselves from text (IP
// addresses, prefixes, ports, MAC addresses).
var samples = []string{"10.1.2.3", "fe80::1", "10.1.0.0/16", "8080/tcp", "53/udp", "02:42:ac:11:00:02", "1s"}

// fill sets v's settable parts at random: each with probability p, more
// sparsely deeper down.
func fill(r *rand.Rand, v reflect.Value, depth int, p float64) {
	if !v.CanSet() || depth > 6 {
		return
	}
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		for _, i := range r.Perm(len(samples)) {
			if u.UnmarshalText([]byte(samples[i])) == nil {
				return
			}
		}
		v.SetZero()
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if r.Float64() < p {
				fill(r, v.Field(i), depth+1, p)
			}
		}
	case reflect.Pointer:
		if r.Float64() < p {
			v.Set(reflect.New(v.Type().Elem()))
			fill(r, v.Elem(), depth+1, p)
		}
	case reflect.Slice:
		switch r.IntN(3) {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + r.IntN(2)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				fill(r, v.Index(i), depth+1, p)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(r, v.Index(i), depth+1, p)
		}
	case reflect.Map:
		switch r.IntN(3) {
		case 0:
		case 1:
			v.Set(reflect.MakeMap(v.Type()))
		default:
			v.Set(reflect.MakeMap(v.Type()))
			for range 1 + r.IntN(2) {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fill(r, k, depth+1, 1)
				fill(r, e, depth+1, p)
				v.SetMapIndex(k, e)
			}
		}
	case reflect.Interface:
		if v.NumMethod() == 0 && r.IntN(2) == 0 {
			v.Set(reflect.ValueOf(randString(r)))
		}
	case reflect.String:
		v.SetString(randString(r))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(r.IntN(200) - 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(r.IntN(200)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.NormFloat64() * 1e3)
	}
}

func randString(r *rand.Rand) string {
	parts := []string{"", "a", "Name", "<&>", `"\`, "\n\x01", "é", "\xff", "\u2028", "ctr-1"}
	return parts[r.IntN(len(parts))] + parts[r.IntN(len(parts))]
}
