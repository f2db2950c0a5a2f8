// Package system holds the commands about the engine as a whole: version,
// info, system df and events, with docker's names, flags and output.
package system

import (
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// AddCommands registers the top-level commands of this group and the
// `system` parent that docker also offers (`system info`, `system events`).
func AddCommands(root *cobra.Command, c *cli.CLI) {
	root.AddCommand(
		NewVersionCommand(c),
		NewInfoCommand(c),
		NewEventsCommand(c),
		newSystemCommand(c),
	)
}

func newSystemCommand(c *cli.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage Berth",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		NewDiskUsageCommand(c),
		NewPruneCommand(c),
		NewInfoCommand(c),
		NewEventsCommand(c),
	)
	return cmd
}
