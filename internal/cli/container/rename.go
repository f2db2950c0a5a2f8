package container

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewRenameCommand returns `berth rename` (also `berth container rename`).
func NewRenameCommand(c *cli.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunRename(cmd.Context(), c, args[0], args[1])
		},
	}
}

// RunRename renames a container; it prints nothing on success, as docker.
func RunRename(ctx context.Context, c *cli.CLI, oldName, newName string) error {
	oldName, newName = strings.TrimSpace(oldName), strings.TrimSpace(newName)
	if oldName == "" || newName == "" {
		return errors.New("Error: Neither old nor new names may be empty") //nolint:staticcheck // docker's wording
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if _, err := cl.ContainerRename(ctx, oldName, client.ContainerRenameOptions{NewName: newName}); err != nil {
		return err
	}
	return nil
}
