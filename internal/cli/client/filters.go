package client

import (
	"encoding/json"
	"maps"
	"net/url"
)

// Filters are a list request's filters, term -> set of values, encoded in
// the "filters" query parameter as the API expects:
// {"term":{"value":true}}.
type Filters map[string]map[string]bool

// Add adds values to term and returns f, for chaining.
func (f Filters) Add(term string, values ...string) Filters {
	if f[term] == nil {
		f[term] = make(map[string]bool, len(values))
	}
	for _, v := range values {
		f[term][v] = true
	}
	return f
}

// Clone returns a deep copy, so callers can add to it without changing f.
func (f Filters) Clone() Filters {
	out := make(Filters, len(f))
	for term, values := range f {
		out[term] = make(map[string]bool, len(values))
		maps.Copy(out[term], values)
	}
	return out
}

// setQuery sets (or, when there are none, removes) the filters parameter.
func (f Filters) setQuery(q url.Values) {
	if len(f) == 0 {
		q.Del("filters")
		return
	}
	b, _ := json.Marshal(f) // a map of strings to sets of strings always encodes
	q.Set("filters", string(b))
}
