package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/term"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// SaveOptions are the flags of `berth save`.
type SaveOptions struct {
	Output   string
	Platform string
	Images   []string
}

// NewSaveCommand returns `berth save` (also `berth image save`).
func NewSaveCommand(c *cli.CLI) *cobra.Command {
	var opts SaveOptions
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Images = args
			return RunSave(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "Write to a file, instead of STDOUT")
	f.StringVar(&opts.Platform, "platform", "", `Save only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

// RunSave writes the images as one docker-archive tarball. A file is
// written beside its final name and renamed, so a failed save leaves no
// truncated archive behind.
func RunSave(ctx context.Context, c *cli.CLI, opts SaveOptions) error {
	if opts.Output == "" {
		if _, isTerm := term.GetFdInfo(c.Out); isTerm {
			return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
	} else if dir := filepath.Dir(opts.Output); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("failed to save image: invalid output path: %w", err)
		}
	}
	var so []client.ImageSaveOption
	if opts.Platform != "" {
		p, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		so = append(so, client.ImageSaveWithPlatforms([]ocispec.Platform{p}...))
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	rc, err := cl.ImageSave(ctx, opts.Images, so...)
	if err != nil {
		return err
	}
	defer rc.Close()
	if opts.Output == "" {
		_, err := io.Copy(c.Out, rc)
		return err
	}
	return copyToFile(opts.Output, rc)
}

func copyToFile(path string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".berth_temp_")
	if err != nil {
		return fmt.Errorf("failed to save image: %w", err)
	}
	_, err = io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("failed to save image: %w", err)
	}
	return nil
}
