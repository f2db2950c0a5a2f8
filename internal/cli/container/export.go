package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewExportCommand returns `berth export` (also `berth container export`).
func NewExportCommand(c *cli.CLI) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunExport(cmd.Context(), c, args[0], output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// RunExport writes the container's filesystem tar to output or stdout. A
// file is written beside its final name and renamed, so a failed export
// leaves no truncated archive under the name asked for.
func RunExport(ctx context.Context, c *cli.CLI, ref, output string) error {
	if output == "" {
		if _, isTerm := term.GetFdInfo(c.Out); isTerm {
			return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
	} else if _, err := os.Stat(filepath.Dir(output)); err != nil {
		return fmt.Errorf("failed to export container: invalid output path: %w", err)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	rc, err := cl.ContainerExport(ctx, ref, client.ContainerExportOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	if output == "" {
		_, err := io.Copy(c.Out, rc)
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(output), ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), output)
}
