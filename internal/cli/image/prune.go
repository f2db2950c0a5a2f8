package image

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// PruneOptions are the flags of `berth image prune`.
type PruneOptions struct {
	All     bool
	Force   bool
	Filters *cli.FilterOpt
}

// NewPruneCommand returns `berth image prune`.
func NewPruneCommand(c *cli.CLI) *cobra.Command {
	opts := PruneOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunPrune(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.All, "all", "a", false, "Remove all unused images, not just dangling ones")
	f.BoolVarP(&opts.Force, "force", "f", false, "Do not prompt for confirmation")
	f.Var(opts.Filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

const (
	pruneDanglingWarning = "WARNING! This will remove all dangling images."
	pruneAllWarning      = "WARNING! This will remove all images without at least one container associated to them."
)

// RunPrune removes dangling images (all unused ones with -a).
func RunPrune(ctx context.Context, c *cli.CLI, opts PruneOptions) error {
	warning := pruneDanglingWarning
	if opts.All {
		warning = pruneAllWarning
	}
	if !opts.Force && !cli.Confirm(c.In, c.Out, warning) {
		// docker treats "no" as a successful non-action: exit 0, silent.
		return nil
	}
	f := opts.Filters.Value()
	f.Add("dangling", fmt.Sprint(!opts.All))
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImagePrune(ctx, client.ImagePruneOptions{Filters: f})
	if err != nil {
		return err
	}
	cli.PrintDeleted(c.Out, "Deleted Images:", cli.ImageDeletions(res.Report.ImagesDeleted))
	cli.PrintReclaimed(c.Out, res.Report.SpaceReclaimed)
	return nil
}
