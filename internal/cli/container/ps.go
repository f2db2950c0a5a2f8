package container

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
	"github.com/berth-engine/berth/internal/cli/image"
)

// PsOptions are the flags of `berth ps`.
type PsOptions struct {
	All     bool
	Quiet   bool
	Size    bool
	NoTrunc bool
	Latest  bool
	Last    int
	Format  string
	Filters *cli.FilterOpt
}

// NewPsCommand returns `berth ps` (also `berth container ls`).
func NewPsCommand(c *cli.CLI) *cobra.Command {
	opts := PsOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunPs(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.All, "all", "a", false, "Show all containers (default shows just running)")
	f.VarP(opts.Filters, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.IntVarP(&opts.Last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.BoolVarP(&opts.Latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.BoolVar(&opts.NoTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVarP(&opts.Size, "size", "s", false, "Display total file sizes")
	return cmd
}

const (
	defaultPsFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	psSizeColumn    = "\t{{.Size}}"
)

// RunPs lists containers.
func RunPs(ctx context.Context, c *cli.CLI, opts PsOptions) error {
	format := opts.Format
	if format == "" && !opts.Quiet {
		format = image.ConfiguredFormat("psFormat")
	}
	if opts.Quiet && format != "" && format != "table" {
		fmt.Fprintln(c.Err, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	switch {
	case opts.Quiet:
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = defaultPsFormat
		if opts.Size {
			format += psSizeColumn
		}
	}
	lo := client.ContainerListOptions{All: opts.All, Limit: opts.Last, Size: opts.Size}
	if opts.Latest && opts.Last == -1 {
		lo.Limit = 1
	}
	// Sizes are costly for the daemon; ask only when they are shown.
	if strings.Contains(format, ".Size") {
		lo.Size = true
	}
	if opts.Filters != nil {
		lo.Filters = opts.Filters.Value()
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerList(ctx, lo)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]PsRow, 0, len(res.Items))
	for _, s := range res.Items {
		rows = append(rows, newPsRow(s, !opts.NoTrunc, now))
	}
	return formatter.Write(c.Out, format, psHeader, rows)
}

// PsRow is what `ps --format` templates see; the fields are docker's, as
// docker renders them.
type PsRow struct {
	ID           string
	Image        string
	Command      string
	CreatedAt    string
	RunningFor   string
	Ports        string
	State        string
	Status       string
	Size         string
	Names        string
	Labels       string
	Mounts       string
	Networks     string
	LocalVolumes string

	platform *ocispec.Platform
	labels   map[string]string
	header   bool
}

// Label returns one label's value ({{.Label "com.example.x"}}).
func (r PsRow) Label(name string) string {
	if r.header {
		// docker titles the column with the key's last dotted part.
		return name[strings.LastIndex(name, ".")+1:]
	}
	return r.labels[name]
}

// Platform is the image platform the container runs, when the daemon
// reports one.
func (r PsRow) Platform() any {
	if r.header {
		return "PLATFORM"
	}
	return r.platform
}

// MarshalJSON is `ps --format json`: the same keys docker emits, sorted.
func (r PsRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"Platform": r.platform, "ID": r.ID, "Image": r.Image, "Command": r.Command, "CreatedAt": r.CreatedAt, "RunningFor": r.RunningFor,
		"Ports": r.Ports, "State": r.State, "Status": r.Status, "Size": r.Size, "Names": r.Names,
		"Labels": r.Labels, "Mounts": r.Mounts, "Networks": r.Networks, "LocalVolumes": r.LocalVolumes,
	})
}

var psHeader = PsRow{
	ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
	Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Names: "NAMES", Labels: "LABELS",
	Mounts: "MOUNTS", Networks: "NETWORKS", LocalVolumes: "LOCAL VOLUMES", header: true,
}

func newPsRow(s container.Summary, trunc bool, now time.Time) PsRow {
	created := time.Unix(s.Created, 0)
	r := PsRow{
		ID:           s.ID,
		Image:        s.Image,
		Command:      s.Command,
		CreatedAt:    created.String(),
		RunningFor:   HumanAgo(created, now),
		Ports:        DisplayPorts(s.Ports),
		State:        string(s.State),
		Status:       s.Status,
		Size:         psSize(s),
		Names:        psNames(s.Names, trunc),
		Labels:       joinLabels(s.Labels),
		Mounts:       psMounts(s.Mounts, trunc),
		LocalVolumes: strconv.Itoa(countLocalVolumes(s.Mounts)),
		labels:       s.Labels,
	}
	if s.ImageManifestDescriptor != nil {
		r.platform = s.ImageManifestDescriptor.Platform
	}
	if s.Image == "" {
		r.Image = "<no image>"
	}
	if s.NetworkSettings != nil {
		r.Networks = strings.Join(slices.Sorted(maps.Keys(s.NetworkSettings.Networks)), ",")
	}
	if trunc {
		r.ID = TruncateID(s.ID)
		r.Command = ellipsis(s.Command, 20)
		r.Image = psImage(s)
	}
	r.Command = strconv.Quote(r.Command)
	return r
}

// HumanAgo is docker's "2 minutes ago" / "About a minute ago" wording.
func HumanAgo(t, now time.Time) string {
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// TruncateID shortens an ID (with or without "sha256:") to 12 characters.
func TruncateID(id string) string {
	if _, after, ok := strings.Cut(id, ":"); ok {
		id = after
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// psImage shows a container created from an image ID as the short ID, and
// one created from a digested reference without its digest.
func psImage(s container.Summary) string {
	if s.ImageID != "" && TruncateID(s.ImageID) == TruncateID(s.Image) {
		return TruncateID(s.Image)
	}
	if name, _, ok := strings.Cut(s.Image, "@"); ok {
		return name
	}
	return s.Image
}

func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// psNames drops the leading "/" and, truncated, hides link names
// ("/other/alias"), showing the container's own name.
func psNames(names []string, trunc bool) string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimPrefix(n, "/"))
	}
	if trunc {
		for _, n := range out {
			if !strings.Contains(n, "/") {
				return n
			}
		}
	}
	return strings.Join(out, ",")
}

func psSize(s container.Summary) string {
	rw := units.HumanSizeWithPrecision(float64(s.SizeRw), 3)
	if s.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", rw, units.HumanSizeWithPrecision(float64(s.SizeRootFs), 3))
	}
	return rw
}

func joinLabels(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

func psMounts(ms []container.MountPoint, trunc bool) string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if trunc {
			name = ellipsis(name, 15)
		}
		out = append(out, name)
	}
	return strings.Join(out, ",")
}

func countLocalVolumes(ms []container.MountPoint) int {
	n := 0
	for _, m := range ms {
		if m.Driver == "local" {
			n++
		}
	}
	return n
}

// DisplayPorts renders the PORTS column as docker does: ports sorted,
// runs of consecutive ports merged into ranges ("8000-8001/tcp",
// "0.0.0.0:8000-8001->8000-8001/tcp"); a port published under another
// number is listed on its own after the ranges.
func DisplayPorts(ports []container.PortSummary) string {
	sorted := slices.Clone(ports)
	slices.SortFunc(sorted, func(a, b container.PortSummary) int {
		return cmp.Or(
			cmp.Compare(a.PrivatePort, b.PrivatePort),
			cmp.Compare(ipString(a), ipString(b)),
			cmp.Compare(a.PublicPort, b.PublicPort),
			cmp.Compare(a.Type, b.Type),
		)
	})
	type run struct {
		ip, proto   string
		first, last uint16
	}
	var (
		order   []string
		current = map[string]*run{}
		out     []string
		remaps  []string
	)
	render := func(r *run) string {
		p := strconv.Itoa(int(r.first))
		if r.last != r.first {
			p += "-" + strconv.Itoa(int(r.last))
		}
		if r.ip != "" {
			return net.JoinHostPort(r.ip, p) + "->" + p + "/" + r.proto
		}
		return p + "/" + r.proto
	}
	for _, p := range sorted {
		ip := ipString(p)
		if ip != "" && p.PublicPort != p.PrivatePort {
			remaps = append(remaps, fmt.Sprintf("%s->%d/%s", net.JoinHostPort(ip, strconv.Itoa(int(p.PublicPort))), p.PrivatePort, p.Type))
			continue
		}
		key := ip + "|" + p.Type
		r, ok := current[key]
		if !ok {
			current[key] = &run{ip: ip, proto: p.Type, first: p.PrivatePort, last: p.PrivatePort}
			order = append(order, key)
			continue
		}
		if p.PrivatePort == r.last+1 {
			r.last = p.PrivatePort
			continue
		}
		// A gap ends this run; it is printed now, the new one at the end.
		out = append(out, render(r))
		current[key] = &run{ip: ip, proto: p.Type, first: p.PrivatePort, last: p.PrivatePort}
	}
	for _, k := range order {
		out = append(out, render(current[k]))
	}
	return strings.Join(append(out, remaps...), ", ")
}

func ipString(p container.PortSummary) string {
	if !p.IP.IsValid() {
		return ""
	}
	return p.IP.String()
}
