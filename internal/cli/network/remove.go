package network

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// RemoveOptions are the flags of `berth network rm`.
type RemoveOptions struct {
	Force bool
	Refs  []string
}

// NewRemoveCommand returns `berth network rm`.
func NewRemoveCommand(c *cli.CLI) *cobra.Command {
	var opts RemoveOptions
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			return RunRemove(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

// RunRemove removes each network, printing its reference; failures are
// reported together at the end.
func RunRemove(ctx context.Context, c *cli.CLI, opts RemoveOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, ref := range opts.Refs {
		if _, err := cl.NetworkRemove(ctx, ref, client.NetworkRemoveOptions{}); err != nil {
			if opts.Force && cerrdefs.IsNotFound(err) {
				continue
			}
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, ref)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
