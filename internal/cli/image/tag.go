package image

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewTagCommand returns `berth tag` (also `berth image tag`).
func NewTagCommand(c *cli.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunTag(cmd.Context(), c, args[0], args[1])
		},
	}
}

// RunTag adds a name to an image; it prints nothing, as docker.
func RunTag(ctx context.Context, c *cli.CLI, source, target string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	_, err = cl.ImageTag(ctx, client.ImageTagOptions{Source: source, Target: target})
	return err
}
