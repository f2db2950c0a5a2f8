package image

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/imgref"
)

// PushOptions are the flags of `berth push`.
type PushOptions struct {
	Ref      string
	AllTags  bool
	Quiet    bool
	Platform string
}

// NewPushCommand returns `berth push` (also `berth image push`).
func NewPushCommand(c *cli.CLI) *cobra.Command {
	var opts PushOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			return RunPush(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.AllTags, "all-tags", "a", false, "Push all tags of an image to the repository")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&opts.Platform, "platform", "", "Push a platform-specific manifest as a single-platform image to the registry.")
	f.Bool("disable-content-trust", true, "Skip image signing")
	_ = f.MarkHidden("disable-content-trust")
	return cmd
}

// RunPush pushes and shows docker's progress; -q prints only the name.
func RunPush(ctx context.Context, c *cli.CLI, opts PushOptions) error {
	named, err := imgref.ParseNormalizedNamed(opts.Ref)
	if err != nil {
		return err
	}
	if opts.AllTags && !imgref.IsNameOnly(named) {
		return fmt.Errorf("tag can't be used with --all-tags/-a")
	}
	if !opts.AllTags && imgref.IsNameOnly(named) {
		named = imgref.TagNameOnly(named)
		if t, ok := named.(imgref.Tagged); ok && !opts.Quiet {
			fmt.Fprintf(c.Out, "Using default tag: %s\n", t.Tag())
		}
	}
	po := client.ImagePushOptions{All: opts.AllTags, RegistryAuth: EncodedAuth(named.String())}
	if opts.Platform != "" {
		p, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		po.Platform = &p
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	resp, err := cl.ImagePush(ctx, named.String(), po)
	if err != nil {
		return err
	}
	defer resp.Close()
	out := c.Out
	if opts.Quiet {
		out = io.Discard
	}
	if err := DisplayJSONStream(resp, out); err != nil {
		return err
	}
	if opts.Quiet {
		fmt.Fprintln(c.Out, named.String())
	}
	return nil
}
