package volume

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// PruneOptions are the flags of `berth volume prune`.
type PruneOptions struct {
	All     bool
	Force   bool
	Filters *cli.FilterOpt
}

// NewPruneCommand returns `berth volume prune`.
func NewPruneCommand(c *cli.CLI) *cobra.Command {
	opts := PruneOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunPrune(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.All, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	f.Var(opts.Filters, "filter", `Provide filter values (e.g. "label=<label>")`)
	f.BoolVarP(&opts.Force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

const (
	pruneWarning    = "WARNING! This will remove anonymous local volumes not used by at least one container."
	pruneAllWarning = "WARNING! This will remove all local volumes not used by at least one container."
)

// RunPrune removes unused anonymous volumes (all unused ones with -a).
func RunPrune(ctx context.Context, c *cli.CLI, opts PruneOptions) error {
	warning := pruneWarning
	if opts.All {
		warning = pruneAllWarning
	}
	if !opts.Force && !cli.Confirm(c.In, c.Out, warning) {
		return errors.New("volume prune has been cancelled")
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.VolumePrune(ctx, client.VolumePruneOptions{All: opts.All, Filters: opts.Filters.Value()})
	if err != nil {
		return err
	}
	cli.PrintDeleted(c.Out, "Deleted Volumes:", res.Report.VolumesDeleted)
	cli.PrintReclaimed(c.Out, res.Report.SpaceReclaimed)
	return nil
}
