package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewDiffCommand returns `berth diff` (also `berth container diff`).
func NewDiffCommand(c *cli.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunDiff(cmd.Context(), c, args[0])
		},
	}
}

// RunDiff prints one "KIND PATH" line per change (A added, C changed,
// D deleted), as docker does.
func RunDiff(ctx context.Context, c *cli.CLI, ref string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerDiff(ctx, ref, client.ContainerDiffOptions{})
	if err != nil {
		return err
	}
	for _, ch := range res.Changes {
		fmt.Fprintf(c.Out, "%s %s\n", ch.Kind, ch.Path)
	}
	return nil
}
