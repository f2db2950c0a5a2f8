package system

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/client/versions"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// DiskUsageOptions are the flags of `berth system df`.
type DiskUsageOptions struct {
	Verbose bool
	Format  string
}

// NewDiskUsageCommand returns `berth system df`.
func NewDiskUsageCommand(c *cli.CLI) *cobra.Command {
	var opts DiskUsageOptions
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth disk usage",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunDiskUsage(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "Show detailed information on space usage")
	cmd.Flags().StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

const defaultDiskUsageFormat = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

// DiskUsageRow is one line of the summary; --format templates see these
// fields (all strings, as docker renders them).
type DiskUsageRow struct {
	Type        string
	TotalCount  string
	Active      string
	Size        string
	Reclaimable string
}

// MarshalJSON emits the keys sorted, as docker's `--format json` does.
func (r DiskUsageRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Type": r.Type, "TotalCount": r.TotalCount, "Active": r.Active, "Size": r.Size, "Reclaimable": r.Reclaimable,
	})
}

var diskUsageHeader = map[string]string{
	"Type":        "TYPE",
	"TotalCount":  "TOTAL",
	"Active":      "ACTIVE",
	"Size":        "SIZE",
	"Reclaimable": "RECLAIMABLE",
}

// RunDiskUsage prints the summary table, or with Verbose the per-object
// sections.
func RunDiskUsage(ctx context.Context, c *cli.CLI, opts DiskUsageOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	du, err := cl.DiskUsage(ctx, client.DiskUsageOptions{
		Containers: true, Images: true, Volumes: true, BuildCache: true, Verbose: opts.Verbose,
	})
	if err != nil {
		return err
	}
	// Before API 1.52 the client derives image totals from the item list in
	// its own way; docker 28 counts everything not used by a container as
	// reclaimable, and we print what docker prints against the same daemon.
	if versions.LessThan(cl.ClientVersion(), "1.52") && len(du.Images.Items) > 0 {
		var used int64
		for _, img := range du.Images.Items {
			if img.Containers > 0 && img.Size != -1 && img.SharedSize != -1 {
				used += img.Size - img.SharedSize
			}
		}
		du.Images.Reclaimable = du.Images.TotalSize - used
	}
	if opts.Verbose {
		return writeDiskUsageVerbose(c.Out, du, time.Now())
	}
	format := opts.Format
	if format == "" || format == "table" {
		format = defaultDiskUsageFormat
	}
	return formatter.Write(c.Out, format, diskUsageHeader, diskUsageRows(du))
}

func diskUsageRows(du client.DiskUsageResult) []DiskUsageRow {
	row := func(typ string, total, active, size, reclaimable int64) DiskUsageRow {
		return DiskUsageRow{
			Type:        typ,
			TotalCount:  strconv.FormatInt(total, 10),
			Active:      strconv.FormatInt(active, 10),
			Size:        units.HumanSize(float64(size)),
			Reclaimable: reclaimableString(reclaimable, size),
		}
	}
	return []DiskUsageRow{
		row("Images", du.Images.TotalCount, du.Images.ActiveCount, du.Images.TotalSize, du.Images.Reclaimable),
		row("Containers", du.Containers.TotalCount, du.Containers.ActiveCount, du.Containers.TotalSize, du.Containers.Reclaimable),
		row("Local Volumes", du.Volumes.TotalCount, du.Volumes.ActiveCount, du.Volumes.TotalSize, du.Volumes.Reclaimable),
		row("Build Cache", du.BuildCache.TotalCount, du.BuildCache.ActiveCount, du.BuildCache.TotalSize, du.BuildCache.Reclaimable),
	}
}

func reclaimableString(reclaimable, total int64) string {
	if total <= 0 {
		return units.HumanSize(float64(reclaimable))
	}
	return fmt.Sprintf("%s (%d%%)", units.HumanSize(float64(reclaimable)), reclaimable*100/total)
}

func ago(t time.Time, now time.Time) string {
	return units.HumanDuration(now.Sub(t)) + " ago"
}

func sizeOrNA(n int64) string {
	if n < 0 {
		return "N/A"
	}
	return units.HumanSizeWithPrecision(float64(n), 3)
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// splitRepoTag separates "registry:5000/name:tag" into name and tag; the
// colon of a port comes before the last slash, a tag's after it.
func splitRepoTag(ref string) (string, string) {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "<none>"
}

func writeDiskUsageVerbose(out io.Writer, du client.DiskUsageResult, now time.Time) error {
	fmt.Fprint(out, "Images space usage:\n\n")
	tw := formatter.NewTabWriter(out)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, img := range du.Images.Items {
		repo, tag := "<none>", "<none>"
		if len(img.RepoTags) > 0 && img.RepoTags[0] != "<none>:<none>" {
			repo, tag = splitRepoTag(img.RepoTags[0])
		}
		unique := "N/A"
		if img.Size >= 0 && img.SharedSize >= 0 {
			unique = units.HumanSizeWithPrecision(float64(img.Size-img.SharedSize), 3)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, shortID(img.ID),
			ago(time.Unix(img.Created, 0), now), sizeOrNA(img.Size), sizeOrNA(img.SharedSize), unique, img.Containers)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprint(out, "\nContainers space usage:\n\n")
	tw = formatter.NewTabWriter(out)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES")
	for _, ctr := range du.Containers.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", shortID(ctr.ID), ctr.Image,
			strconv.Quote(truncateCommand(ctr.Command)), localVolumes(ctr), units.HumanSizeWithPrecision(float64(ctr.SizeRw), 3),
			ago(time.Unix(ctr.Created, 0), now), ctr.Status, containerNames(ctr))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprint(out, "\nLocal Volumes space usage:\n\n")
	tw = formatter.NewTabWriter(out)
	fmt.Fprintln(tw, "VOLUME NAME\tLINKS\tSIZE")
	for _, v := range du.Volumes.Items {
		links, size := "N/A", "N/A"
		if v.UsageData != nil {
			links = strconv.FormatInt(v.UsageData.RefCount, 10)
			if v.UsageData.Size >= 0 {
				size = units.HumanSize(float64(v.UsageData.Size))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, links, size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(out, "\nBuild cache usage: %s\n\n", units.HumanSize(float64(du.BuildCache.TotalSize)))
	tw = formatter.NewTabWriter(out)
	fmt.Fprintln(tw, "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED")
	for _, bc := range du.BuildCache.Items {
		lastUsed := ""
		if bc.LastUsedAt != nil {
			lastUsed = ago(*bc.LastUsedAt, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%t\n", bc.ID, bc.Type, units.HumanSizeWithPrecision(float64(bc.Size), 3),
			ago(bc.CreatedAt, now), lastUsed, bc.UsageCount, bc.Shared)
	}
	return tw.Flush()
}

// truncateCommand keeps the COMMAND column narrow, as docker ps does.
func truncateCommand(cmd string) string {
	const width = 20
	if r := []rune(cmd); len(r) > width {
		return string(r[:width-1]) + "…"
	}
	return cmd
}

func localVolumes(ctr container.Summary) int {
	n := 0
	for _, m := range ctr.Mounts {
		if m.Type == mount.TypeVolume {
			n++
		}
	}
	return n
}

func containerNames(ctr container.Summary) string {
	names := make([]string, 0, len(ctr.Names))
	for _, n := range ctr.Names {
		names = append(names, strings.TrimPrefix(n, "/"))
	}
	return strings.Join(names, ",")
}
