package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// CommitOptions are the flags of `berth commit`.
type CommitOptions struct {
	Container string
	Reference string
	Author    string
	Message   string
	Changes   []string
	Pause     bool
}

// NewCommitCommand returns `berth commit` (also `berth container commit`).
func NewCommitCommand(c *cli.CLI) *cobra.Command {
	var opts CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequiresMinArgs(1)(cmd, args); err != nil {
				return err
			}
			return cli.RequiresMaxArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container = args[0]
			if len(args) > 1 {
				opts.Reference = args[1]
			}
			return RunCommit(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&opts.Message, "message", "m", "", "Commit message")
	f.BoolVarP(&opts.Pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

// RunCommit commits the container and prints the new image's ID.
func RunCommit(ctx context.Context, c *cli.CLI, opts CommitOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerCommit(ctx, opts.Container, client.ContainerCommitOptions{
		Reference: opts.Reference,
		Comment:   opts.Message,
		Author:    opts.Author,
		Changes:   opts.Changes,
		NoPause:   !opts.Pause,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Out, res.ID)
	return nil
}
