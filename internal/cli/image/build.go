package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/client/jsonmessage"
)

// BuildOptions are the flags of `berth build`.
type BuildOptions struct {
	Context    string
	Dockerfile string
	Tags       []string
	BuildArgs  []string
	Labels     []string
	Target     string
	NoCache    bool
	Pull       bool
	Network    string
	Quiet      bool
	IIDFile    string
	Platform   string
	Progress   string
	Rm         bool
	ForceRm    bool
	CacheFrom  []string
}

// NewBuildCommand returns `berth build` (also `berth image build`).
func NewBuildCommand(c *cli.CLI) *cobra.Command {
	var opts BuildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context = args[0]
			return RunBuild(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Dockerfile, "file", "f", "", "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
	f.StringArrayVarP(&opts.Tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	f.StringArrayVar(&opts.BuildArgs, "build-arg", nil, "Set build-time variables")
	f.StringArrayVar(&opts.Labels, "label", nil, "Set metadata for an image")
	f.StringVar(&opts.Target, "target", "", "Set the target build stage to build.")
	f.BoolVar(&opts.NoCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&opts.Pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.StringVar(&opts.Network, "network", "default", "Set the networking mode for the RUN instructions during build")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.StringVar(&opts.IIDFile, "iidfile", "", "Write the image ID to the file")
	f.StringVar(&opts.Platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	f.StringVar(&opts.Progress, "progress", "auto", "Set type of progress output (auto, plain, tty)")
	f.BoolVar(&opts.Rm, "rm", true, "Remove intermediate containers after a successful build")
	f.BoolVar(&opts.ForceRm, "force-rm", false, "Always remove intermediate containers")
	f.StringArrayVar(&opts.CacheFrom, "cache-from", nil, "Images to consider as cache sources")
	return cmd
}

// NewBuilderCommand returns `berth builder` with `prune` and `build`.
func NewBuilderCommand(c *cli.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage builds",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	var force, all bool
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !cli.Confirm(c.In, c.Out, "WARNING! This will remove all dangling build cache.") {
				return nil
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.BuildCachePrune(cmd.Context(), client.BuildCachePruneOptions{All: all})
			if err != nil {
				return err
			}
			cli.PrintDeleted(c.Out, "Deleted build cache objects:", res.Report.CachesDeleted)
			cli.PrintReclaimed(c.Out, res.Report.SpaceReclaimed)
			return nil
		},
	}
	prune.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	cmd.AddCommand(prune, NewBuildCommand(c))
	return cmd
}

// RunBuild sends the context and Dockerfile to the daemon's classic
// builder and shows its progress.
func RunBuild(ctx context.Context, c *cli.CLI, opts BuildOptions) error {
	switch opts.Progress {
	case "", "auto", "plain", "tty", "quiet":
	default:
		return fmt.Errorf("invalid value %q for --progress: use auto, plain, tty or quiet", opts.Progress)
	}
	if opts.Progress == "quiet" {
		opts.Quiet = true
	}
	if strings.Contains(opts.Context, "://") || strings.HasPrefix(opts.Context, "git@") {
		return fmt.Errorf("building from a URL is not supported: %s (clone or download it and build the directory)", opts.Context)
	}
	body, dockerfile, err := buildContextTar(c.In, opts.Context, opts.Dockerfile)
	if err != nil {
		return err
	}
	bopts := client.ImageBuildOptions{
		Tags:           opts.Tags,
		Dockerfile:     dockerfile,
		Target:         opts.Target,
		NoCache:        opts.NoCache,
		PullParent:     opts.Pull,
		NetworkMode:    opts.Network,
		Remove:         opts.Rm || opts.ForceRm,
		ForceRemove:    opts.ForceRm,
		CacheFrom:      opts.CacheFrom,
		BuildArgs:      map[string]*string{},
		Labels:         map[string]string{},
		Version:        "1",
		SuppressOutput: opts.Quiet,
	}
	for _, a := range opts.BuildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if env, set := os.LookupEnv(k); set {
				v = env
			} else {
				bopts.BuildArgs[k] = nil
				continue
			}
		}
		val := v
		bopts.BuildArgs[k] = &val
	}
	for _, l := range opts.Labels {
		k, v, _ := strings.Cut(l, "=")
		bopts.Labels[k] = v
	}
	if opts.Platform != "" {
		p, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		bopts.Platforms = append(bopts.Platforms, p)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageBuild(ctx, body, bopts)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var imageID string
	aux := func(m jsonstream.Message) {
		var r struct{ ID string }
		if m.Aux != nil && json.Unmarshal(*m.Aux, &r) == nil && r.ID != "" {
			imageID = r.ID
		}
	}
	out := io.Writer(c.Out)
	var quietBuf bytes.Buffer
	if opts.Quiet {
		out = &quietBuf
	}
	fd, isTerm := term.GetFdInfo(out)
	err = jsonmessage.DisplayJSONMessagesStream(res.Body, out, fd, isTerm, aux)
	if err != nil {
		var je *jsonstream.Error
		if errors.As(err, &je) {
			code := je.Code
			if code == 0 {
				code = 1
			}
			return cli.StatusError{Status: je.Message, StatusCode: code}
		}
		return err
	}
	if opts.Quiet {
		fmt.Fprintln(c.Out, imageID)
	}
	if opts.IIDFile != "" && imageID != "" {
		if err := os.WriteFile(opts.IIDFile, []byte(imageID), 0o666); err != nil {
			return err
		}
	}
	return nil
}

// buildContextTar returns the context to send and the Dockerfile's name in
// it. A directory is tarred with its .dockerignore applied (the Dockerfile
// and .dockerignore always go along, as with docker); "-" is a tar or a
// lone Dockerfile on stdin. A Dockerfile from stdin ("-f -") or from outside
// the context is added under a random name.
func buildContextTar(stdin io.Reader, ctxPath, dockerfile string) (io.Reader, string, error) {
	var extra []byte
	if dockerfile == "-" {
		if ctxPath == "-" {
			return nil, "", errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, "", err
		}
		extra = data
	}
	if ctxPath == "-" {
		br := bufio.NewReader(stdin)
		head, _ := br.Peek(512)
		if isArchiveHead(head) {
			return br, dockerfile, nil
		}
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, "", err
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(data)
		_ = tw.Close()
		return &buf, "Dockerfile", nil
	}
	root, err := filepath.Abs(ctxPath)
	if err != nil {
		return nil, "", err
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, "", fmt.Errorf("unable to prepare context: path %q not found", ctxPath)
	}
	name := "Dockerfile"
	if dockerfile != "" && dockerfile != "-" {
		p := dockerfile
		if !filepath.IsAbs(p) {
			p, _ = filepath.Abs(p)
		}
		rel, err := filepath.Rel(root, p)
		if err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
		} else {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, "", fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %w", err)
			}
			extra = data
		}
	} else if dockerfile == "" {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			if _, err2 := os.Stat(filepath.Join(root, "dockerfile")); err2 == nil {
				name = "dockerfile"
			} else {
				return nil, "", fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", filepath.Join(root, name))
			}
		}
	}
	if extra != nil {
		var b [8]byte
		rand.Read(b[:])
		name = ".dockerfile." + hex.EncodeToString(b[:])[:12]
	}
	var excludes []string
	if f, err := os.Open(filepath.Join(root, ".dockerignore")); err == nil {
		excludes, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, "", err
		}
	}
	if extra == nil {
		excludes = append(excludes, "!"+name)
	}
	excludes = append(excludes, "!.dockerignore")
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, "", err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeContext(pw, root, pm, name, extra))
	}()
	return pr, name, nil
}

func isArchiveHead(head []byte) bool {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), bytes.HasPrefix(head, []byte("BZh")),
		bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}), bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// writeContext tars root, skipping what .dockerignore excludes.
func writeContext(w io.Writer, root string, pm *patternmatcher.PatternMatcher, dfName string, extra []byte) error {
	tw := tar.NewWriter(w)
	parents := map[string]patternmatcher.MatchInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		parent := filepath.ToSlash(filepath.Dir(rel))
		m, info, err := pm.MatchesUsingParentResults(rel, parents[parent])
		if err != nil {
			return err
		}
		if d.IsDir() {
			parents[rel] = info
		}
		if m {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil // sockets and the like are not sent
		}
		h.Name = rel
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if extra != nil {
		if err := tw.WriteHeader(&tar.Header{Name: dfName, Mode: 0o644, Size: int64(len(extra)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := tw.Write(extra); err != nil {
			return err
		}
	}
	return tw.Close()
}
