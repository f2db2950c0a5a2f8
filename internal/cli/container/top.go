package container

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// NewTopCommand returns `berth top` (also `berth container top`).
func NewTopCommand(c *cli.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunTop(cmd.Context(), c, args[0], args[1:])
		},
	}
	// Everything after the container is ps's, dashes included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// RunTop prints the daemon's ps output as an aligned table.
func RunTop(ctx context.Context, c *cli.CLI, ref string, psArgs []string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerTop(ctx, ref, client.ContainerTopOptions{Arguments: psArgs})
	if err != nil {
		return err
	}
	tw := formatter.NewTabWriter(c.Out)
	// docker's top table has wider columns than its listings.
	tw.Init(c.Out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(res.Titles, "\t"))
	for _, p := range res.Processes {
		fmt.Fprintln(tw, strings.Join(p, "\t"))
	}
	return tw.Flush()
}
