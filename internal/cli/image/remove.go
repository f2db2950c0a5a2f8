package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// RemoveOptions are the flags of `berth rmi`.
type RemoveOptions struct {
	Force     bool
	NoPrune   bool
	Platforms []string
	Images    []string
}

// NewRmiCommand returns `berth rmi` (also `berth image rm`).
func NewRmiCommand(c *cli.CLI) *cobra.Command {
	var opts RemoveOptions
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Images = args
			return RunRemove(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Force, "force", "f", false, "Force removal of the image")
	f.BoolVar(&opts.NoPrune, "no-prune", false, "Do not delete untagged parents")
	f.StringSliceVar(&opts.Platforms, "platform", nil, `Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

// RunRemove removes each image, printing docker's "Untagged: …" and
// "Deleted: …" lines; failures are reported together at the end, exit 1.
func RunRemove(ctx context.Context, c *cli.CLI, opts RemoveOptions) error {
	ro := client.ImageRemoveOptions{Force: opts.Force, PruneChildren: !opts.NoPrune}
	for _, p := range opts.Platforms {
		pl, err := ParsePlatform(p)
		if err != nil {
			return err
		}
		ro.Platforms = append(ro.Platforms, []ocispec.Platform{pl}...)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, img := range opts.Images {
		res, err := cl.ImageRemove(ctx, img, ro)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, d := range res.Items {
			if d.Untagged != "" {
				fmt.Fprintf(c.Out, "Untagged: %s\n", d.Untagged)
			}
			if d.Deleted != "" {
				fmt.Fprintf(c.Out, "Deleted: %s\n", d.Deleted)
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
