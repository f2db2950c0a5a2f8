// Package volume holds the `volume` commands (create, ls, inspect, rm,
// prune) with docker's names, flags, output and exit codes.
package volume

import (
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// Commands is the `volume` management group.
func Commands(c *cli.CLI) []cli.Lazy {
	return []cli.Lazy{{Name: "volume", New: func() *cobra.Command { return newGroupCommand(c) }}}
}

func newGroupCommand(c *cli.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		NewCreateCommand(c),
		NewInspectCommand(c),
		NewListCommand(c),
		NewPruneCommand(c),
		NewRemoveCommand(c),
	)
	return cmd
}
