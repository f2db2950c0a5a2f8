package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/cparchive"
)

// CpOptions are the flags of `berth cp`.
type CpOptions struct {
	Archive    bool // -a: keep (give) uid/gid
	FollowLink bool // -L
	Quiet      bool
}

// NewCpCommand returns `berth cp` (also `berth container cp`).
func NewCpCommand(c *cli.CLI) *cobra.Command {
	var opts CpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem\n\n" +
			"Use '-' as the source to read a tar archive from stdin\n" +
			"and extract it to a directory destination in a container.\n" +
			"Use '-' as the destination to stream a tar archive of a\n" +
			"container source to stdout.",
		Args: cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunCp(cmd.Context(), c, args[0], args[1], opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	cmd.Flags().BoolVarP(&opts.FollowLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits "container:path"; a path with a "/" before its first
// ":" (or starting with ".") is local, as in docker.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	name, rest, ok := strings.Cut(arg, ":")
	if !ok || strings.Contains(name, "/") {
		return "", arg
	}
	return name, rest
}

// RunCp copies between a container and the local filesystem.
func RunCp(ctx context.Context, c *cli.CLI, src, dst string, opts CpOptions) error {
	srcCtr, srcPath := splitCpArg(src)
	dstCtr, dstPath := splitCpArg(dst)
	switch {
	case srcCtr != "" && dstCtr != "":
		return errors.New("copying between containers is not supported")
	case srcCtr == "" && dstCtr == "":
		return errors.New("must specify at least one container source")
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if srcCtr != "" {
		if srcPath == "" {
			return errors.New("source path must not be empty")
		}
		return copyFromContainer(ctx, c, cl, srcCtr, srcPath, dstPath, opts)
	}
	if dstPath == "" {
		return errors.New("destination path must not be empty")
	}
	return copyToContainer(ctx, c, cl, srcPath, dstCtr, dstPath, opts)
}

func copyFromContainer(ctx context.Context, c *cli.CLI, cl *client.Client, ctr, srcPath, dstPath string, opts CpOptions) error {
	if dstPath != "-" {
		// A local destination that does not exist needs a parent that does.
		if _, err := os.Lstat(dstPath); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Dir(filepath.Clean(dstPath))); err != nil {
				return err
			}
		}
	}
	// With -L, a symlink is replaced by what it points to, copied under
	// the link's name.
	if opts.FollowLink {
		st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: srcPath})
		if err == nil && st.Stat.Mode&os.ModeSymlink != 0 && st.Stat.LinkTarget != "" {
			srcPath = st.Stat.LinkTarget
		}
	}
	res, err := cl.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: srcPath})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dstPath == "-" {
		_, err := io.Copy(c.Out, res.Content)
		return err
	}
	srcInfo := cparchive.CopyInfo{
		Path:   srcPath,
		Exists: true,
		IsDir:  res.Stat.Mode.IsDir(),
	}
	if opts.FollowLink && res.Stat.Name != filepath.Base(srcPath) {
		srcInfo.RebaseName = res.Stat.Name
	}
	counted := &countReader{r: res.Content}
	if err := cparchive.CopyTo(counted, srcInfo, dstPath); err != nil {
		return err
	}
	if !opts.Quiet {
		fmt.Fprintf(c.Err, "Successfully copied %s to %s\n", units.HumanSize(float64(counted.n)), dstPath)
	}
	return nil
}

func copyToContainer(ctx context.Context, c *cli.CLI, cl *client.Client, srcPath, ctr, dstPath string, opts CpOptions) error {
	// What the destination is decides how the source is renamed.
	dstInfo := cparchive.CopyInfo{Path: dstPath}
	st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dstPath})
	if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
		// Copy into what the link points to, under the link's directory.
		linkTarget := st.Stat.LinkTarget
		if !filepath.IsAbs(linkTarget) {
			linkTarget = filepath.Join(filepath.Dir(dstPath), linkTarget)
		}
		dstInfo.Path = linkTarget
		st, err = cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: linkTarget})
	}
	if err == nil {
		dstInfo.Exists, dstInfo.IsDir = true, st.Stat.Mode.IsDir()
	} else if !cerrdefs.IsNotFound(err) {
		return err
	}

	var (
		content io.Reader
		dstDir  string
		counted *countReader
	)
	if srcPath == "-" {
		if !dstInfo.IsDir {
			return fmt.Errorf("destination \"%s:%s\" must be a directory", ctr, dstPath)
		}
		content, dstDir = c.In, dstInfo.Path
	} else {
		srcInfo, err := cparchive.CopyInfoSourcePath(srcPath, opts.FollowLink)
		if err != nil {
			return err
		}
		srcArchive, err := cparchive.TarResource(srcInfo)
		if err != nil {
			return err
		}
		defer srcArchive.Close()
		dir, prepared, err := cparchive.PrepareArchiveCopy(srcArchive, srcInfo, dstInfo)
		if err != nil {
			return err
		}
		defer prepared.Close()
		counted = &countReader{r: prepared}
		content, dstDir = counted, dir
	}
	_, err = cl.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{
		DestinationPath: dstDir,
		Content:         content,
		CopyUIDGID:      opts.Archive,
	})
	if err != nil {
		return err
	}
	if counted != nil && !opts.Quiet {
		fmt.Fprintf(c.Err, "Successfully copied %s to %s:%s\n", units.HumanSize(float64(counted.n)), ctr, dstPath)
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
