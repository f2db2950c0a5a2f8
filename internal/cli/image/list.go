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
	"github.com/berth-engine/berth/internal/cli/imgref"
)

// ListOptions are the flags of `berth images`.
type ListOptions struct {
	All     bool
	Quiet   bool
	Digests bool
	NoTrunc bool
	Format  string
	Filters *cli.FilterOpt
	Ref     string
}

// NewImagesCommand returns `berth images` (also `berth image ls`).
func NewImagesCommand(c *cli.CLI) *cobra.Command {
	opts := ListOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cli.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Ref = args[0]
			}
			return RunList(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.All, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVar(&opts.Digests, "digests", false, "Show digests")
	f.VarP(opts.Filters, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.BoolVar(&opts.NoTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

const (
	defaultImagesFormat        = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	defaultImagesDigestsFormat = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)

// RunList lists images, one row per repository:tag.
func RunList(ctx context.Context, c *cli.CLI, opts ListOptions) error {
	lo := client.ImageListOptions{All: opts.All}
	if opts.Filters != nil {
		lo.Filters = opts.Filters.Value()
	}
	if opts.Ref != "" {
		if lo.Filters == nil {
			lo.Filters = make(client.Filters)
		}
		lo.Filters.Add("reference", opts.Ref)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageList(ctx, lo)
	if err != nil {
		return err
	}
	if opts.Format == "" && !opts.Quiet {
		opts.Format = ConfiguredFormat("imagesFormat")
	}
	return WriteImages(c.Out, res.Items, opts, time.Now())
}

// WriteImages renders the list; split out so the table can be tested
// without a daemon.
func WriteImages(out interface{ Write([]byte) (int, error) }, items []image.Summary, opts ListOptions, now time.Time) error {
	format := opts.Format
	switch {
	case opts.Quiet && (format == "" || format == "table"):
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = defaultImagesFormat
		if opts.Digests {
			format = defaultImagesDigestsFormat
		}
	}
	var rows []ImageRow
	for _, img := range items {
		rows = append(rows, imageRows(img, opts.Digests, !opts.NoTrunc, now)...)
	}
	return formatter.Write(out, format, imagesHeader, rows)
}

// ImageRow is what `images --format` templates see.
type ImageRow struct {
	Repository   string
	Tag          string
	Digest       string
	ID           string
	CreatedSince string
	CreatedAt    string
	Size         string
	Containers   string
	SharedSize   string
	UniqueSize   string
	VirtualSize  string
}

// MarshalJSON is `images --format json`: docker's keys, sorted.
func (r ImageRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Repository": r.Repository, "Tag": r.Tag, "Digest": r.Digest, "ID": r.ID, "CreatedSince": r.CreatedSince,
		"CreatedAt": r.CreatedAt, "Size": r.Size, "Containers": r.Containers, "SharedSize": r.SharedSize,
		"UniqueSize": r.UniqueSize, "VirtualSize": r.VirtualSize,
	})
}

var imagesHeader = ImageRow{
	Repository: "REPOSITORY", Tag: "TAG", Digest: "DIGEST", ID: "IMAGE ID", CreatedSince: "CREATED",
	CreatedAt: "CREATED AT", Size: "SIZE", Containers: "CONTAINERS", SharedSize: "SHARED SIZE",
	UniqueSize: "UNIQUE SIZE", VirtualSize: "SIZE",
}

const none = "<none>"

// imageRows gives one row per tag; digests are shown per tag with
// --digests, and a repository known only by digest gets a "<none>" tag.
func imageRows(img image.Summary, digests, trunc bool, now time.Time) []ImageRow {
	base := ImageRow{
		ID:           img.ID,
		CreatedSince: HumanAgo(time.Unix(img.Created, 0), now),
		CreatedAt:    time.Unix(img.Created, 0).String(),
		Size:         units.HumanSizeWithPrecision(float64(img.Size), 3),
		Containers:   "N/A",
		SharedSize:   "N/A",
		UniqueSize:   "N/A",
		VirtualSize:  units.HumanSize(float64(img.Size)),
	}
	if img.Containers >= 0 {
		base.Containers = strconv.FormatInt(img.Containers, 10)
	}
	if img.SharedSize >= 0 {
		base.SharedSize = units.HumanSizeWithPrecision(float64(img.SharedSize), 3)
		base.UniqueSize = units.HumanSizeWithPrecision(float64(img.Size-img.SharedSize), 3)
	}
	if trunc {
		base.ID = TruncateID(img.ID)
	}

	type repo struct {
		name    string
		tags    []string
		digests []string
	}
	var repos []*repo
	byName := map[string]*repo{}
	get := func(name string) *repo {
		if r, ok := byName[name]; ok {
			return r
		}
		r := &repo{name: name}
		byName[name] = r
		repos = append(repos, r)
		return r
	}
	for _, t := range img.RepoTags {
		named, err := imgref.ParseNormalizedNamed(t)
		if err != nil {
			continue
		}
		if tagged, ok := named.(imgref.NamedTagged); ok {
			r := get(imgref.FamiliarName(named))
			r.tags = append(r.tags, tagged.Tag())
		}
	}
	for _, d := range img.RepoDigests {
		named, err := imgref.ParseNormalizedNamed(d)
		if err != nil {
			continue
		}
		if c, ok := named.(imgref.Canonical); ok {
			r := get(imgref.FamiliarName(named))
			r.digests = append(r.digests, c.Digest().String())
		}
	}
	var rows []ImageRow
	for _, r := range repos {
		ds := r.digests
		switch {
		case len(r.tags) == 0 && !digests:
			// docker leaves Digest empty on a digest-only row it does
			// not expand.
			ds = []string{""}
		case !digests || len(ds) == 0:
			ds = []string{none}
		}
		tags := r.tags
		if len(tags) == 0 {
			tags = []string{none}
		}
		for _, t := range tags {
			for _, d := range ds {
				row := base
				row.Repository, row.Tag, row.Digest = r.name, t, d
				rows = append(rows, row)
			}
		}
	}
	if len(rows) == 0 {
		row := base
		row.Repository, row.Tag, row.Digest = none, none, none
		rows = append(rows, row)
	}
	return rows
}

// HumanAgo is docker's "2 minutes ago" / "About a minute ago" wording.
func HumanAgo(t, now time.Time) string {
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// TruncateID shortens an ID (dropping "sha256:") to 12 characters.
func TruncateID(id string) string {
	if _, after, ok := strings.Cut(id, ":"); ok {
		id = after
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
