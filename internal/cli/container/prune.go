package container

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// PruneOptions are the flags of `berth container prune`.
type PruneOptions struct {
	Force   bool
	Filters *cli.FilterOpt
}

// NewPruneCommand returns `berth container prune`.
func NewPruneCommand(c *cli.CLI) *cobra.Command {
	opts := PruneOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunPrune(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Force, "force", "f", false, "Do not prompt for confirmation")
	f.Var(opts.Filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// RunPrune removes stopped containers after asking, unless -f.
func RunPrune(ctx context.Context, c *cli.CLI, opts PruneOptions) error {
	if !opts.Force && !cli.Confirm(c.In, c.Out, "WARNING! This will remove all stopped containers.") {
		// docker treats "no" as a successful non-action: exit 0, silent.
		return nil
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: opts.Filters.Value()})
	if err != nil {
		return err
	}
	cli.PrintDeleted(c.Out, "Deleted Containers:", res.Report.ContainersDeleted)
	cli.PrintReclaimed(c.Out, res.Report.SpaceReclaimed)
	return nil
}
