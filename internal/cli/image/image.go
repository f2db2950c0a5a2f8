// Package image holds the image commands (images, pull, push, load, save,
// import, tag, rmi, history, image inspect/prune), with docker's names,
// flags, output and exit codes.
package image

import (
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// Commands are the top-level image commands and the `image` group.
func Commands(c *cli.CLI) []cli.Lazy {
	return []cli.Lazy{
		{Name: "images", New: func() *cobra.Command { return NewImagesCommand(c) }},
		{Name: "pull", New: func() *cobra.Command { return NewPullCommand(c) }},
		{Name: "push", New: func() *cobra.Command { return NewPushCommand(c) }},
		{Name: "import", New: func() *cobra.Command { return NewImportCommand(c) }},
		{Name: "load", New: func() *cobra.Command { return NewLoadCommand(c) }},
		{Name: "save", New: func() *cobra.Command { return NewSaveCommand(c) }},
		{Name: "tag", New: func() *cobra.Command { return NewTagCommand(c) }},
		{Name: "rmi", New: func() *cobra.Command { return NewRmiCommand(c) }},
		{Name: "history", New: func() *cobra.Command { return NewHistoryCommand(c) }},
		{Name: "build", New: func() *cobra.Command { return NewBuildCommand(c) }},
		{Name: "builder", New: func() *cobra.Command { return NewBuilderCommand(c) }},
		{Name: "search", New: func() *cobra.Command { return NewSearchCommand(c) }},
		{Name: "image", New: func() *cobra.Command { return newImageCommand(c) }},
	}
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
