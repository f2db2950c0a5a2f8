package volume

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/image"
)

// InspectOptions are the flags of `berth volume inspect`.
type InspectOptions struct {
	Format string
	Names  []string
}

// NewInspectCommand returns `berth volume inspect`.
func NewInspectCommand(c *cli.CLI) *cobra.Command {
	var opts InspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			return RunInspect(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

// RunInspect prints the volumes as docker's inspect commands do; missing
// ones are reported after, exit 1.
func RunInspect(ctx context.Context, c *cli.CLI, opts InspectOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var found []image.Inspected
	var errs []string
	for _, name := range opts.Names {
		res, err := cl.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		found = append(found, image.Inspected{Value: res.Volume, Raw: res.Raw})
	}
	if err := image.WriteInspect(c.Out, opts.Format, found); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
