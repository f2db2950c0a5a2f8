// Package network holds the network commands (network create, ls,
// inspect, rm, connect, disconnect, prune) with docker's names, flags,
// output and exit codes.
package network

import (
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// Commands is the `network` management group.
func Commands(c *cli.CLI) []cli.Lazy {
	return []cli.Lazy{{Name: "network", New: func() *cobra.Command { return newGroupCommand(c) }}}
}

func newGroupCommand(c *cli.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage networks",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		NewConnectCommand(c),
		NewCreateCommand(c),
		NewDisconnectCommand(c),
		NewInspectCommand(c),
		NewListCommand(c),
		NewPruneCommand(c),
		NewRemoveCommand(c),
	)
	return cmd
}
