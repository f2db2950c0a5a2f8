package image

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// HistoryOptions are the flags of `berth history`.
type HistoryOptions struct {
	Human    bool
	Quiet    bool
	NoTrunc  bool
	Format   string
	Platform string
	Image    string
}

// NewHistoryCommand returns `berth history` (also `berth image history`).
func NewHistoryCommand(c *cli.CLI) *cobra.Command {
	var opts HistoryOptions
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Image = args[0]
			return RunHistory(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&opts.NoTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.StringVar(&opts.Platform, "platform", "", `Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

const defaultHistoryFormat = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

// RunHistory lists the image's layers, newest first.
func RunHistory(ctx context.Context, c *cli.CLI, opts HistoryOptions) error {
	var ho []client.ImageHistoryOption
	if opts.Platform != "" {
		p, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		ho = append(ho, client.ImageHistoryWithPlatform(p))
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageHistory(ctx, opts.Image, ho...)
	if err != nil {
		return err
	}
	if opts.Format == "" && !opts.Quiet {
		opts.Format = ConfiguredFormat("historyFormat")
	}
	return WriteHistory(c.Out, res.Items, opts, time.Now())
}

// WriteHistory renders history items; split out for tests.
func WriteHistory(out interface{ Write([]byte) (int, error) }, items []image.HistoryResponseItem, opts HistoryOptions, now time.Time) error {
	format := opts.Format
	switch {
	case opts.Quiet && (format == "" || format == "table"):
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = defaultHistoryFormat
	}
	rows := make([]HistoryRow, 0, len(items))
	for _, h := range items {
		created := time.Unix(h.Created, 0)
		r := HistoryRow{
			ID:        h.ID,
			CreatedAt: created.Format(time.RFC3339),
			CreatedBy: strings.ReplaceAll(h.CreatedBy, "\t", " "),
			Comment:   h.Comment,
		}
		if opts.Human {
			r.CreatedSince = HumanAgo(created, now)
			r.Size = units.HumanSizeWithPrecision(float64(h.Size), 3)
		} else {
			r.CreatedSince = r.CreatedAt
			r.Size = strconv.FormatInt(h.Size, 10)
		}
		if !opts.NoTrunc {
			if h.ID != "<missing>" {
				r.ID = TruncateID(h.ID)
			}
			if cr := []rune(r.CreatedBy); len(cr) > 45 {
				r.CreatedBy = string(cr[:44]) + "…"
			}
		}
		rows = append(rows, r)
	}
	header := historyHeader
	if !opts.Human {
		header.CreatedSince = header.CreatedAt
	}
	return formatter.Write(out, format, header, rows)
}

// HistoryRow is what `history --format` templates see.
type HistoryRow struct {
	ID           string
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

// MarshalJSON is `history --format json`: docker's keys, sorted.
func (r HistoryRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": r.ID, "CreatedSince": r.CreatedSince, "CreatedAt": r.CreatedAt, "CreatedBy": r.CreatedBy,
		"Size": r.Size, "Comment": r.Comment,
	})
}

var historyHeader = HistoryRow{
	ID: "IMAGE", CreatedSince: "CREATED", CreatedAt: "CREATED AT", CreatedBy: "CREATED BY", Size: "SIZE", Comment: "COMMENT",
}
