package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/term"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/client/jsonmessage"
	"github.com/berth-engine/berth/internal/cli/imgref"
	registrycli "github.com/berth-engine/berth/internal/cli/registry"
)

// PullOptions are the flags of `berth pull`.
type PullOptions struct {
	Ref      string
	AllTags  bool
	Quiet    bool
	Platform string
}

// NewPullCommand returns `berth pull` (also `berth image pull`).
func NewPullCommand(c *cli.CLI) *cobra.Command {
	var opts PullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			return RunPull(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.AllTags, "all-tags", "a", false, "Download all tagged images in the repository")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&opts.Platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	f.Bool("disable-content-trust", true, "Skip image verification")
	_ = f.MarkHidden("disable-content-trust")
	return cmd
}

// RunPull pulls and prints docker's progress, then the full reference.
func RunPull(ctx context.Context, c *cli.CLI, opts PullOptions) error {
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
	out := c.Out
	if opts.Quiet {
		out = io.Discard
	}
	if err := Pull(ctx, c, named.String(), opts.Platform, opts.AllTags, out); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, named.String())
	return nil
}

// Pull pulls ref and renders the progress on out (docker's per-layer lines
// on a terminal, plain lines otherwise). run uses it with stderr.
func Pull(ctx context.Context, c *cli.CLI, ref, platform string, all bool, out io.Writer) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	opts := client.ImagePullOptions{All: all, RegistryAuth: EncodedAuth(ref)}
	if platform != "" {
		p, err := ParsePlatform(platform)
		if err != nil {
			return err
		}
		opts.Platforms = []ocispec.Platform{p}
	}
	resp, err := cl.ImagePull(ctx, ref, opts)
	if err != nil {
		return err
	}
	defer resp.Close()
	return DisplayJSONStream(resp, out)
}

// DisplayJSONStream renders a JSON-message progress stream (pull, push,
// load, import) the way docker does for the kind of writer out is.
func DisplayJSONStream(r io.Reader, out io.Writer) error {
	fd, isTerm := term.GetFdInfo(out)
	return jsonmessage.DisplayJSONMessagesStream(r, out, fd, isTerm, nil)
}

// ParsePlatform reads "os[/arch[/variant]]".
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || parts[0] == "" {
		return ocispec.Platform{}, fmt.Errorf("%q: unknown operating system or architecture: invalid argument", s)
	}
	p := ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

// readConfigFile returns the docker CLI's config.json ($DOCKER_CONFIG or
// ~/.docker), which berth shares with docker; nil when there is none.
func readConfigFile() []byte {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(home, ".docker")
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil
	}
	return data
}

// ConfiguredFormat returns a default --format the user set in config.json
// (key "psFormat", "imagesFormat", …), as docker honours them.
func ConfiguredFormat(key string) string {
	var cfg map[string]json.RawMessage
	if json.Unmarshal(readConfigFile(), &cfg) != nil {
		return ""
	}
	var f string
	_ = json.Unmarshal(cfg[key], &f)
	return f
}

// EncodedAuth returns the X-Registry-Auth value for ref's registry from
// the credentials `docker login` (or `berth login`) stored: config.json
// under $DOCKER_CONFIG, or its credential helper; "" when there are none.
func EncodedAuth(ref string) string { return registrycli.EncodedAuth(ref) }
