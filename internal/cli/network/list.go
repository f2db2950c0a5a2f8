package network

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// ListOptions are the flags of `berth network ls`.
type ListOptions struct {
	Quiet   bool
	NoTrunc bool
	Format  string
	Filters *cli.FilterOpt
}

// NewListCommand returns `berth network ls`.
func NewListCommand(c *cli.CLI) *cobra.Command {
	opts := ListOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunList(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only display network IDs")
	f.BoolVar(&opts.NoTrunc, "no-trunc", false, "Do not truncate the output")
	f.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.VarP(opts.Filters, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}

const defaultListFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

// RunList lists the networks, sorted by name as docker prints them.
func RunList(ctx context.Context, c *cli.CLI, opts ListOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.NetworkList(ctx, client.NetworkListOptions{Filters: opts.Filters.Value()})
	if err != nil {
		return err
	}
	return WriteList(c.Out, res.Items, opts)
}

// WriteList renders networks; split out for tests without a daemon.
func WriteList(out io.Writer, items []network.Summary, opts ListOptions) error {
	format := opts.Format
	switch {
	case opts.Quiet && (format == "" || format == "table"):
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = defaultListFormat
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	rows := make([]Row, 0, len(items))
	for _, n := range items {
		rows = append(rows, rowOf(n, !opts.NoTrunc))
	}
	return formatter.Write(out, format, listHeader, rows)
}

// Row is what `network ls --format` templates see.
type Row struct {
	ID, Name, Driver, Scope, IPv4, IPv6, Internal, CreatedAt string
	labels                                                   map[string]string
}

// Labels is the comma-separated key=value list.
func (r Row) Labels() string {
	keys := make([]string, 0, len(r.labels))
	for k := range r.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+r.labels[k])
	}
	return strings.Join(parts, ",")
}

// Label returns one label's value.
func (r Row) Label(name string) string { return r.labels[name] }

var listHeader = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
	"IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS",
}

func rowOf(n network.Summary, trunc bool) Row {
	id := n.ID
	if trunc && len(id) > 12 {
		id = id[:12]
	}
	return Row{
		ID: id, Name: n.Name, Driver: n.Driver, Scope: n.Scope,
		IPv4: fmt.Sprint(n.EnableIPv4), IPv6: fmt.Sprint(n.EnableIPv6), Internal: fmt.Sprint(n.Internal),
		CreatedAt: n.Created.String(), labels: n.Labels,
	}
}
