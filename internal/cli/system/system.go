// Package system holds the commands about the engine as a whole: version,
// info, system df and events, with docker's names, flags and output.
package system

import (
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// Commands are the top-level commands of this group and the `system` parent
// that docker also offers (`system info`, `system events`).
func Commands(c *cli.CLI) []cli.Lazy {
	return []cli.Lazy{
		{Name: "version", New: func() *cobra.Command { return NewVersionCommand(c) }},
		{Name: "info", New: func() *cobra.Command { return NewInfoCommand(c) }},
		{Name: "events", New: func() *cobra.Command { return NewEventsCommand(c) }},
		{Name: "system", New: func() *cobra.Command { return newSystemCommand(c) }},
	}
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
