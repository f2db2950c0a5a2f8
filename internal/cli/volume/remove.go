package volume

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// RemoveOptions are the flags of `berth volume rm`.
type RemoveOptions struct {
	Force bool
	Names []string
}

// NewRemoveCommand returns `berth volume rm`.
func NewRemoveCommand(c *cli.CLI) *cobra.Command {
	var opts RemoveOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Args:    cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			return RunRemove(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

// RunRemove removes each volume and prints its name; failures are
// reported together at the end, exit 1.
func RunRemove(ctx context.Context, c *cli.CLI, opts RemoveOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, name := range opts.Names {
		if _, err := cl.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: opts.Force}); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
