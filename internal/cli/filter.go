package cli

import (
	"errors"
	"strings"

	"github.com/berth-engine/berth/internal/cli/client"
)

// FilterOpt is the repeatable --filter k=v flag of list commands. It is a
// flag type (not a post-parse check) so a malformed filter is a flag error
// with docker's wording and exit code 125.
type FilterOpt struct {
	values []string
	f      client.Filters
}

// NewFilterOpt returns an empty filter flag value.
func NewFilterOpt() *FilterOpt { return &FilterOpt{f: make(client.Filters)} }

// Set adds one "name=value" term.
func (o *FilterOpt) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("bad format of filter (expected name=value)")
	}
	o.f.Add(strings.ToLower(strings.TrimSpace(k)), val)
	o.values = append(o.values, v)
	return nil
}

// String shows the terms given so far (cobra prints it as the default).
func (o *FilterOpt) String() string { return strings.Join(o.values, " ") }

// Type names the value in help output.
func (o *FilterOpt) Type() string { return "filter" }

// Value returns the filters for the API request.
func (o *FilterOpt) Value() client.Filters { return o.f }
