package network

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/image"
)

// InspectOptions are the flags of `berth network inspect`.
type InspectOptions struct {
	Format  string
	Verbose bool
	Refs    []string
}

// NewInspectCommand returns `berth network inspect`.
func NewInspectCommand(c *cli.CLI) *cobra.Command {
	var opts InspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			return RunInspect(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}

// RunInspect prints the networks found, then reports the others (exit 1).
func RunInspect(ctx context.Context, c *cli.CLI, opts InspectOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var found []image.Inspected
	var errs []string
	for _, ref := range opts.Refs {
		r, err := cl.NetworkInspect(ctx, ref, client.NetworkInspectOptions{Verbose: opts.Verbose})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		found = append(found, image.Inspected{Value: r.Network, Raw: r.Raw})
	}
	if err := image.WriteInspect(c.Out, opts.Format, found); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
