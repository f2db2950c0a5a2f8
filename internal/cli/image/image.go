// Package image holds the image commands (images, pull, push, load, save,
// import, tag, rmi, history, image inspect/prune), with docker's names,
// flags, output and exit codes.
package image

import (
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// AddCommands registers the top-level image commands and the `image`
// management group.
func AddCommands(root *cobra.Command, c *cli.CLI) {
	root.AddCommand(
		NewImagesCommand(c),
		NewPullCommand(c),
		NewPushCommand(c),
		NewImportCommand(c),
		NewLoadCommand(c),
		NewSaveCommand(c),
		NewTagCommand(c),
		NewRmiCommand(c),
		NewHistoryCommand(c),
		NewBuildCommand(c),
		NewBuilderCommand(c),
		NewSearchCommand(c),
		newImageCommand(c),
	)
}

func newImageCommand(c *cli.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	ls := NewImagesCommand(c)
	ls.Use = "ls [OPTIONS] [REPOSITORY[:TAG]]"
	ls.Aliases = []string{"list"}
	rm := NewRmiCommand(c)
	rm.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
	rm.Aliases = []string{"remove"}
	cmd.AddCommand(
		NewBuildCommand(c),
		NewHistoryCommand(c),
		NewImportCommand(c),
		NewInspectCommand(c),
		NewLoadCommand(c),
		ls,
		NewPruneCommand(c),
		NewPullCommand(c),
		NewPushCommand(c),
		rm,
		NewSaveCommand(c),
		NewTagCommand(c),
	)
	return cmd
}
