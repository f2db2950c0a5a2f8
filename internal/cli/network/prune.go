package network

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// PruneOptions are the flags of `berth network prune`.
type PruneOptions struct {
	Force   bool
	Filters *cli.FilterOpt
}

// NewPruneCommand returns `berth network prune`.
func NewPruneCommand(c *cli.CLI) *cobra.Command {
	opts := PruneOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
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

// RunPrune removes unused custom networks after asking, unless -f.
func RunPrune(ctx context.Context, c *cli.CLI, opts PruneOptions) error {
	if !opts.Force && !cli.Confirm(c.In, c.Out, "WARNING! This will remove all custom networks not used by at least one container.") {
		return nil
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: opts.Filters.Value()})
	if err != nil {
		return err
	}
	cli.PrintDeleted(c.Out, "Deleted Networks:", res.Report.NetworksDeleted)
	return nil
}
