// Package formatter renders --format Go templates the way docker does: the
// same template functions, the "table" prefix that turns a template into an
// aligned table with a header row, and "json" as a shorthand for {{json .}}.
// Every listing command (ps, images, system df, …) goes through it.
package formatter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
	"unicode/utf8"
)

const (
	tablePrefix = "table"
	// JSONFormat prints each item as one line of JSON.
	JSONFormat = "json"
)

// Funcs are the functions docker makes available in --format templates.
var Funcs = template.FuncMap{
	"json":     jsonString,
	"join":     strings.Join,
	"table":    func(v any) any { return v }, // the prefix is handled before parsing
	"upper":    strings.ToUpper,
	"lower":    strings.ToLower,
	"title":    title,
	"split":    strings.Split,
	"truncate": truncate,
	"pad":      pad,
}

func jsonString(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Templates print to a terminal, not into HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}

func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		defer func() { prev = r }()
		if unicode.IsSpace(prev) || prev == '-' || prev == '_' {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

// truncate counts runes so that multi-byte names are not cut mid-character.
func truncate(s string, n int) string {
	if n < 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func pad(s string, left, right int) string {
	return strings.Repeat(" ", max(left, 0)) + s + strings.Repeat(" ", max(right, 0))
}

// IsTable reports whether format asks for table output.
func IsTable(format string) bool {
	return strings.HasPrefix(strings.TrimSpace(format), tablePrefix)
}

// Parse parses a --format value. The "table" prefix is removed (IsTable
// tells the caller it was there), "json" expands to {{json .}}, and the
// escapes \t and \n are turned into real characters since shells make them
// awkward to type.
func Parse(format string) (*template.Template, error) {
	format = strings.TrimSpace(format)
	switch {
	case format == JSONFormat:
		format = "{{json .}}"
	case IsTable(format):
		format = strings.TrimSpace(strings.TrimPrefix(format, tablePrefix))
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := template.New("").Funcs(Funcs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

// Execute renders format over one value followed by a newline, as `info
// --format` and `version --format` print.
func Execute(w io.Writer, format string, data any) error {
	tmpl, err := Parse(format)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// NewTabWriter returns a tabwriter with docker's table spacing (columns at
// least 10 wide, 3 spaces between).
func NewTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
}

// Write renders items with format. For a table format the header is
// rendered first by running the same template over header, which is
// usually a map from field name to column title (templates read map keys
// with the same .Field syntax as struct fields).
func Write[T any](w io.Writer, format string, header any, items []T) error {
	tmpl, err := Parse(format)
	if err != nil {
		return err
	}
	table := IsTable(format)
	var out io.Writer = w
	var tw *tabwriter.Writer
	if table {
		tw = NewTabWriter(w)
		out = tw
	}
	var buf bytes.Buffer
	if table && header != nil {
		if err := tmpl.Execute(&buf, header); err != nil {
			return err
		}
		buf.WriteByte('\n')
	}
	for _, it := range items {
		if err := tmpl.Execute(&buf, it); err != nil {
			return err
		}
		buf.WriteByte('\n')
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		return err
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}
