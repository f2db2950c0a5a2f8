package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// ImportOptions are the flags of `berth import`.
type ImportOptions struct {
	Source   string
	Ref      string
	Changes  []string
	Message  string
	Platform string
}

// NewImportCommand returns `berth import` (also `berth image import`).
func NewImportCommand(c *cli.CLI) *cobra.Command {
	var opts ImportOptions
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return cli.RequiresMaxArgs(2)(cmd, args)
			}
			opts.Source = args[0]
			if len(args) > 1 {
				opts.Ref = args[1]
			}
			return RunImport(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&opts.Message, "message", "m", "", "Set commit message for imported image")
	f.StringVar(&opts.Platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	return cmd
}

// RunImport sends a root filesystem tarball (a file, or stdin for "-") to
// the daemon and prints the new image's ID.
func RunImport(ctx context.Context, c *cli.CLI, opts ImportOptions) error {
	var src io.Reader
	switch {
	case opts.Source == "-":
		src = c.In
	case strings.HasPrefix(opts.Source, "http://") || strings.HasPrefix(opts.Source, "https://"):
		// The daemon would fetch the URL itself; berthd does not reach out
		// to arbitrary URLs, so say so here rather than fail obscurely.
		return fmt.Errorf("importing from a URL is not supported: %s (download it and import the file, or pipe it to 'import -')", opts.Source)
	default:
		f, err := os.Open(opts.Source)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	io := client.ImageImportOptions{Message: opts.Message, Changes: opts.Changes}
	if opts.Platform != "" {
		p, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		io.Platform = p
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	rc, err := cl.ImageImport(ctx, client.ImageImportSource{Source: src, SourceName: "-"}, opts.Ref, io)
	if err != nil {
		return err
	}
	defer rc.Close()
	return DisplayJSONStream(rc, c.Out)
}
