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

// CreateOptions are the flags of `berth volume create`.
type CreateOptions struct {
	Name       string
	Driver     string
	DriverOpts []string
	Labels     []string
}

// NewCreateCommand returns `berth volume create`.
func NewCreateCommand(c *cli.CLI) *cobra.Command {
	var opts CreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cli.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if opts.Name != "" {
					return cli.StatusError{Status: "conflicting options: cannot specify a volume-name through both --name and as a positional arg", StatusCode: 1}
				}
				opts.Name = args[0]
			}
			return RunCreate(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Driver, "driver", "d", "local", "Specify volume driver name")
	f.StringVar(&opts.Name, "name", "", "Specify volume name")
	_ = f.MarkHidden("name")
	// Not a StringToString flag: values hold commas (-o o=size=1m,uid=1000).
	f.StringArrayVarP(&opts.DriverOpts, "opt", "o", nil, "Set driver specific options")
	f.StringArrayVar(&opts.Labels, "label", nil, "Set metadata for a volume")
	return cmd
}

// RunCreate creates the volume and prints its name.
func RunCreate(ctx context.Context, c *cli.CLI, opts CreateOptions) error {
	labels, err := parseLabels(opts.Labels)
	if err != nil {
		return err
	}
	driverOpts := make(map[string]string, len(opts.DriverOpts))
	for _, o := range opts.DriverOpts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return cli.StatusError{Status: fmt.Sprintf("invalid argument %q for \"-o, --opt\" flag: bad format for option: expected key=value", o), StatusCode: 125}
		}
		driverOpts[k] = v
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name: opts.Name, Driver: opts.Driver, DriverOpts: driverOpts, Labels: labels,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Out, res.Volume.Name)
	return nil
}

// parseLabels reads --label k=v (a bare k means an empty value).
func parseLabels(in []string) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for _, l := range in {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, errors.New("invalid label: " + l)
		}
		out[k] = v
	}
	return out, nil
}
