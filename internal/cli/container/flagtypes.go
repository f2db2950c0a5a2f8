package container

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/docker/go-units"
)

// listOpt is docker's repeatable "list" flag: every occurrence adds one
// value, never split on commas (a comma is legal inside an env value or a
// mount spec). A validator turns a bad value into a flag error (exit 125)
// with the flag's name in it, as docker reports it.
type listOpt struct {
	values   []string
	validate func(string) (string, error)
}

func newListOpt(validate func(string) (string, error)) *listOpt {
	return &listOpt{validate: validate}
}

func (o *listOpt) Set(v string) error {
	if o.validate != nil {
		nv, err := o.validate(v)
		if err != nil {
			return err
		}
		v = nv
	}
	o.values = append(o.values, v)
	return nil
}

// String is empty for no values so that help shows no "(default [])".
func (o *listOpt) String() string {
	if len(o.values) == 0 {
		return ""
	}
	return "[" + strings.Join(o.values, " ") + "]"
}
func (o *listOpt) Type() string { return "list" }

// GetAll returns the values in the order given.
func (o *listOpt) GetAll() []string { return o.values }

// mapOpt is docker's "map" flag (--sysctl, --annotation): key=value pairs,
// later keys win.
type mapOpt struct {
	values map[string]string
}

func newMapOpt() *mapOpt { return &mapOpt{values: map[string]string{}} }

func (o *mapOpt) Set(v string) error {
	k, val, _ := strings.Cut(v, "=")
	o.values[k] = val
	return nil
}

func (o *mapOpt) String() string {
	parts := make([]string, 0, len(o.values))
	for _, k := range slices.Sorted(maps.Keys(o.values)) {
		parts = append(parts, k+":"+o.values[k])
	}
	return "map[" + strings.Join(parts, " ") + "]"
}
func (o *mapOpt) Type() string { return "map" }

// memBytes is a size such as "512m" or "1g" (docker's "bytes" flag type).
type memBytes int64

func (m *memBytes) Set(v string) error {
	n, err := units.RAMInBytes(v)
	*m = memBytes(n)
	return err
}

func (m *memBytes) String() string {
	// Empty default so help does not print "(default 0)" noise.
	if *m == 0 {
		return ""
	}
	return units.BytesSize(float64(*m))
}
func (m *memBytes) Type() string { return "bytes" }

// swapBytes is --memory-swap: a size, or -1 for unlimited swap.
type swapBytes int64

func (m *swapBytes) Set(v string) error {
	if v == "-1" {
		*m = -1
		return nil
	}
	n, err := units.RAMInBytes(v)
	*m = swapBytes(n)
	return err
}

func (m *swapBytes) String() string {
	if *m == 0 {
		return ""
	}
	return fmt.Sprint(int64(*m))
}
func (m *swapBytes) Type() string { return "bytes" }

// nanoCPUs is --cpus: a decimal number of CPUs kept exact (big.Rat) so
// "1.5" becomes exactly 1500000000 and too many decimals are refused.
type nanoCPUs int64

func (n *nanoCPUs) Set(v string) error {
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", v)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	*n = nanoCPUs(nano.Num().Int64())
	return nil
}

func (n *nanoCPUs) String() string {
	if *n == 0 {
		return ""
	}
	return big.NewRat(int64(*n), 1e9).FloatString(3)
}
func (n *nanoCPUs) Type() string { return "decimal" }

// ulimitOpt is --ulimit name=soft[:hard].
type ulimitOpt struct {
	values map[string]*units.Ulimit
	order  []string
}

func newUlimitOpt() *ulimitOpt { return &ulimitOpt{values: map[string]*units.Ulimit{}} }

func (o *ulimitOpt) Set(v string) error {
	l, err := units.ParseUlimit(v)
	if err != nil {
		return err
	}
	if _, ok := o.values[l.Name]; !ok {
		o.order = append(o.order, l.Name)
	}
	o.values[l.Name] = l
	return nil
}

func (o *ulimitOpt) String() string {
	parts := make([]string, 0, len(o.order))
	for _, n := range o.order {
		parts = append(parts, o.values[n].String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}
func (o *ulimitOpt) Type() string { return "ulimit" }

// GetList returns the limits in the order first given.
func (o *ulimitOpt) GetList() []*units.Ulimit {
	out := make([]*units.Ulimit, 0, len(o.order))
	for _, n := range o.order {
		out = append(out, o.values[n])
	}
	return out
}
