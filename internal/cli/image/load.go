package image

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/moby/term"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// LoadOptions are the flags of `berth load`.
type LoadOptions struct {
	Input    string
	Quiet    bool
	Platform string
}

// NewLoadCommand returns `berth load` (also `berth image load`).
func NewLoadCommand(c *cli.CLI) *cobra.Command {
	var opts LoadOptions
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunLoad(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress the load output")
	f.StringVar(&opts.Platform, "platform", "", `Load only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

// RunLoad sends a docker-archive or OCI layout tarball to the daemon and
// shows its "Loaded image: …" lines.
func RunLoad(ctx context.Context, c *cli.CLI, opts LoadOptions) error {
	var in io.Reader = c.In
	if opts.Input != "" {
		f, err := os.Open(opts.Input)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	} else if _, isTerm := term.GetFdInfo(c.In); isTerm {
		return errors.New("requested load from stdin, but stdin is empty")
	}
	var lo []client.ImageLoadOption
	// Progress bars only make sense on a terminal; elsewhere ask the
	// daemon for the short form, as docker does.
	if _, isTerm := term.GetFdInfo(c.Out); opts.Quiet || !isTerm {
		lo = append(lo, client.ImageLoadWithQuiet(true))
	}
	if opts.Platform != "" {
		p, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		lo = append(lo, client.ImageLoadWithPlatforms([]ocispec.Platform{p}...))
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	rc, err := cl.ImageLoad(ctx, in, lo...)
	if err != nil {
		return err
	}
	defer rc.Close()
	return DisplayJSONStream(rc, c.Out)
}
