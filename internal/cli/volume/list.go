package volume

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// ListOptions are the flags of `berth volume ls`.
type ListOptions struct {
	Quiet   bool
	Format  string
	Filters *cli.FilterOpt
}

// NewListCommand returns `berth volume ls`.
func NewListCommand(c *cli.CLI) *cobra.Command {
	opts := ListOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunList(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only display volume names")
	f.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.VarP(opts.Filters, "filter", "f", "Provide filter values (e.g. \"dangling=true\")")
	return cmd
}

const defaultFormat = "table {{.Driver}}\t{{.Name}}"

// RunList lists volumes sorted by name.
func RunList(ctx context.Context, c *cli.CLI, opts ListOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.VolumeList(ctx, client.VolumeListOptions{Filters: opts.Filters.Value()})
	if err != nil {
		return err
	}
	return WriteList(c.Out, res.Items, opts)
}

// WriteList renders volumes; split out to test the table without a daemon.
func WriteList(out io.Writer, vols []volume.Volume, opts ListOptions) error {
	format := opts.Format
	switch {
	case opts.Quiet && (format == "" || format == "table"):
		format = "{{.Name}}"
	case format == "" || format == "table":
		format = defaultFormat
	case format == formatter.JSONFormat:
		format = "{{json .}}"
	}
	sort.Slice(vols, func(i, j int) bool { return vols[i].Name < vols[j].Name })
	rows := make([]Row, 0, len(vols))
	for _, v := range vols {
		rows = append(rows, Row{v: v})
	}
	return formatter.Write(out, format, header, rows)
}

// Row is what `volume ls --format` templates see: docker's fields.
type Row struct {
	v      volume.Volume
	header map[string]string
}

var header = Row{header: map[string]string{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
	"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
	"Availability": "AVAILABILITY", "Status": "STATUS", "CreatedAt": "CREATED",
}}

func (r Row) h(k string, v func() string) string {
	if r.header != nil {
		return r.header[k]
	}
	return v()
}

func (r Row) Name() string       { return r.h("Name", func() string { return r.v.Name }) }
func (r Row) Driver() string     { return r.h("Driver", func() string { return r.v.Driver }) }
func (r Row) Scope() string      { return r.h("Scope", func() string { return r.v.Scope }) }
func (r Row) Mountpoint() string { return r.h("Mountpoint", func() string { return r.v.Mountpoint }) }
func (r Row) CreatedAt() string  { return r.h("CreatedAt", func() string { return r.v.CreatedAt }) }
func (r Row) Group() string      { return r.h("Group", func() string { return "N/A" }) }
func (r Row) Availability() string {
	return r.h("Availability", func() string { return "N/A" })
}
func (r Row) Status() string { return r.h("Status", func() string { return "N/A" }) }

// Labels joins k=v pairs with commas, sorted so output is stable.
func (r Row) Labels() string {
	return r.h("Labels", func() string {
		var kv []string
		for k, v := range r.v.Labels {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		return strings.Join(kv, ",")
	})
}

// Label returns one label's value.
func (r Row) Label(name string) string {
	if r.header != nil {
		return "LABEL " + strings.ToUpper(name)
	}
	return r.v.Labels[name]
}

// Links is how many containers use the volume ("N/A" unless known).
func (r Row) Links() string {
	return r.h("Links", func() string {
		if r.v.UsageData == nil {
			return "N/A"
		}
		return strconv.FormatInt(r.v.UsageData.RefCount, 10)
	})
}

// Size is the volume's disk usage ("N/A" unless known).
func (r Row) Size() string {
	return r.h("Size", func() string {
		if r.v.UsageData == nil || r.v.UsageData.Size < 0 {
			return "N/A"
		}
		return units.HumanSize(float64(r.v.UsageData.Size))
	})
}

// MarshalJSON is `volume ls --format json`: docker's keys.
func (r Row) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Availability": r.Availability(), "Driver": r.Driver(), "Group": r.Group(),
		"Labels": r.Labels(), "Links": r.Links(), "Mountpoint": r.Mountpoint(),
		"Name": r.Name(), "Scope": r.Scope(), "Size": r.Size(), "Status": r.Status(),
	})
}
