package system

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// PruneOptions are the flags of `berth system prune`.
type PruneOptions struct {
	All     bool
	Force   bool
	Volumes bool
	Filters *cli.FilterOpt
}

// NewPruneCommand returns `berth system prune`.
func NewPruneCommand(c *cli.CLI) *cobra.Command {
	opts := PruneOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunPrune(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.All, "all", "a", false, "Remove all unused images not just dangling ones")
	f.BoolVarP(&opts.Force, "force", "f", false, "Do not prompt for confirmation")
	f.BoolVar(&opts.Volumes, "volumes", false, "Prune anonymous volumes")
	f.Var(opts.Filters, "filter", `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}

// pruneWarning is docker's list of what system prune removes.
func pruneWarning(opts PruneOptions) string {
	items := []string{"all stopped containers", "all networks not used by at least one container"}
	if opts.Volumes {
		items = append(items, "all anonymous volumes not used by at least one container")
	}
	if opts.All {
		items = append(items, "all images without at least one container associated to them", "all build cache")
	} else {
		items = append(items, "all dangling images", "unused build cache")
	}
	var b strings.Builder
	b.WriteString("WARNING! This will remove:\n")
	for _, it := range items {
		b.WriteString("  - " + it + "\n")
	}
	return b.String()
}

// RunPrune removes stopped containers, unused networks, (anonymous
// volumes,) dangling or unused images and build cache, in docker's order,
// and prints each part's report and the total reclaimed.
func RunPrune(ctx context.Context, c *cli.CLI, opts PruneOptions) error {
	f := opts.Filters.Value()
	for k := range f {
		if k != "until" && k != "label" && k != "label!" {
			return fmt.Errorf("invalid filter '%s'", k)
		}
	}
	if !opts.Force && !cli.Confirm(c.In, c.Out, pruneWarning(opts)) {
		return nil
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var total uint64
	cres, err := cl.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: f.Clone()})
	if err != nil {
		return err
	}
	cli.PrintDeleted(c.Out, "Deleted Containers:", cres.Report.ContainersDeleted)
	total += cres.Report.SpaceReclaimed

	nres, err := cl.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: f.Clone()})
	if err != nil {
		return err
	}
	cli.PrintDeleted(c.Out, "Deleted Networks:", nres.Report.NetworksDeleted)

	if opts.Volumes {
		vf := f.Clone()
		delete(vf, "until") // volumes have no until filter
		vres, err := cl.VolumePrune(ctx, client.VolumePruneOptions{Filters: vf})
		if err != nil {
			return err
		}
		cli.PrintDeleted(c.Out, "Deleted Volumes:", vres.Report.VolumesDeleted)
		total += vres.Report.SpaceReclaimed
	}

	imf := f.Clone().Add("dangling", fmt.Sprint(!opts.All))
	ires, err := cl.ImagePrune(ctx, client.ImagePruneOptions{Filters: imf})
	if err != nil {
		return err
	}
	cli.PrintDeleted(c.Out, "Deleted Images:", cli.ImageDeletions(ires.Report.ImagesDeleted))
	total += ires.Report.SpaceReclaimed

	bres, err := cl.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: opts.All, Filters: f.Clone()})
	switch {
	case err == nil:
		cli.PrintDeleted(c.Out, "Deleted build cache objects:", bres.Report.CachesDeleted)
		total += bres.Report.SpaceReclaimed
	case cerrdefs.IsNotFound(err) || cerrdefs.IsNotImplemented(err):
		// A daemon without a builder has no cache to prune.
	default:
		return err
	}
	cli.PrintReclaimed(c.Out, total)
	return nil
}
