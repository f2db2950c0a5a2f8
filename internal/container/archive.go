package container

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/go-archive"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/sys/user"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/layer"
)

// The archive API (`docker cp`): HEAD, GET and PUT
// /containers/{id}/archive, with dockerd's path rules. Every path is
// resolved inside the container's root (see fsroot.go).

// ExtractOptions are the query options of PUT /containers/{id}/archive.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the reverse.
	NoOverwriteDirNonDir bool
	// CopyUIDGID gives the files to the container's user (docker cp -a).
	CopyUIDGID bool
}

// StatPath describes the path in the container, as HEAD answers it in the
// X-Docker-Container-Path-Stat header.
func (s *Service) StatPath(ctx context.Context, ref, p string) (container.PathStat, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return container.PathStat{}, err
	}
	v, err := s.containerFS(ctx, c)
	if err != nil {
		return container.PathStat{}, err
	}
	defer v.release()
	var st container.PathStat
	err = v.run(func() error {
		st, _, err = statInRoot(p)
		return err
	})
	if err != nil {
		return container.PathStat{}, archiveError(ref, p, err)
	}
	return st, nil
}

// ArchivePath returns the path's stat and a tar of it, its entries named
// after the path's last element as given (so "/etc/" gives "etc/...").
// The tar is produced while it is read; closing the reader stops it.
func (s *Service) ArchivePath(ctx context.Context, ref, p string) (container.PathStat, io.ReadCloser, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return container.PathStat{}, nil, err
	}
	v, err := s.containerFS(ctx, c)
	if err != nil {
		return container.PathStat{}, nil, err
	}
	type started struct {
		st container.PathStat
		rc io.ReadCloser
	}
	ready := make(chan started, 1)
	done := make(chan error, 1)
	go func() {
		defer v.release()
		done <- v.run(func() error {
			st, resolved, err := statInRoot(p)
			if err != nil {
				return err
			}
			absPath := absContainerPath(p)
			// The archive's entries are named after what was asked for,
			// not after where symlinks led: "/" stays "/" and a link
			// followed through a trailing slash keeps the link's name.
			resolved = filepath.Clean(resolved)
			srcDir, srcBase := resolved, "."
			if !st.Mode.IsDir() {
				srcDir, srcBase = filepath.Split(resolved)
			}
			opts := archive.TarResourceRebaseOpts(srcBase, filepath.Base(absPath))
			tb, err := archive.NewTarballer(srcDir, opts)
			if err != nil {
				return err
			}
			ready <- started{st, tb.Reader()}
			tb.Do() // on this thread, in the container's root
			return nil
		})
	}()
	select {
	case r := <-ready:
		s.event(c, "archive-path", nil)
		return r.st, r.rc, nil
	case err := <-done:
		if err == nil {
			err = errors.New("archive ended before it started")
		}
		return container.PathStat{}, nil, archiveError(ref, p, err)
	}
}

// ExtractToDir unpacks the tar r (plain, gzip, bzip2, xz or zstd) into the
// directory p of the container. p must be a directory (a symlink to one
// counts); it may not be on the read-only rootfs or in a read-only volume.
func (s *Service) ExtractToDir(ctx context.Context, ref, p string, opts ExtractOptions, r io.Reader) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	readOnlyRoot := c.HostConfig != nil && c.HostConfig.ReadonlyRootfs
	userSpec := ""
	if c.Config != nil {
		userSpec = c.Config.User
	}
	mps := append([]*mountPoint(nil), c.MountPoints...)
	c.mu.Unlock()

	plain, err := layer.Decompress(r)
	if err != nil {
		return errdefs.InvalidParameterf("could not read the archive: %v", err)
	}
	defer plain.Close()

	v, err := s.containerFS(ctx, c)
	if err != nil {
		return err
	}
	defer v.release()
	tarOpts := &archive.TarOptions{NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir}
	tarOpts, closeOpts, err := archive.WithProcSelfFD(tarOpts)
	if err != nil {
		return err
	}
	defer closeOpts()
	err = v.run(func() error {
		absPath := absContainerPath(p)
		resolved, err := securejoin.SecureJoin("/", absPath)
		if err != nil {
			return err
		}
		fi, err := os.Stat(resolved)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errdefs.InvalidParameterf("extraction point is not a directory")
		}
		if mp := mountAt(mps, resolved); mp != nil {
			if !mp.RW {
				return errdefs.InvalidParameterf("mounted volume is marked read-only")
			}
		} else if readOnlyRoot {
			return errdefs.InvalidParameterf("container rootfs is marked read-only")
		}
		if opts.CopyUIDGID && userSpec != "" {
			u, err := user.GetExecUserPath(userSpec, nil, "/etc/passwd", "/etc/group")
			if err != nil {
				return errdefs.InvalidParameterf("unable to find user %s: %v", userSpec, err)
			}
			tarOpts.ChownOpts = &archive.ChownOpts{UID: u.Uid, GID: u.Gid}
		}
		return archive.Unpack(plain, resolved, tarOpts)
	})
	if err != nil {
		return archiveError(ref, p, err)
	}
	s.event(c, "extract-to-dir", nil)
	return nil
}

// absContainerPath makes p absolute in the container, keeping a trailing
// "/" or "/." that changes what a copy means.
func absContainerPath(p string) string {
	return archive.PreserveTrailingDotOrSeparator(filepath.Join("/", p), p)
}

// statInRoot runs chrooted: it resolves p as dockerd does (every element
// but the last followed, the last one followed only with a trailing
// slash) and stats it.
func statInRoot(p string) (container.PathStat, string, error) {
	absPath := absContainerPath(p)
	dir, base := filepath.Split(absPath)
	resolvedDir, err := securejoin.SecureJoin("/", dir)
	if err != nil {
		return container.PathStat{}, "", err
	}
	resolved := strings.TrimSuffix(resolvedDir, "/") + "/" + base
	fi, err := os.Lstat(resolved)
	if err != nil {
		return container.PathStat{}, "", err
	}
	st := container.PathStat{
		Name:  filepath.Base(absPath),
		Size:  fi.Size(),
		Mode:  fi.Mode(),
		Mtime: fi.ModTime(),
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if st.LinkTarget, err = securejoin.SecureJoin("/", absPath); err != nil {
			return container.PathStat{}, "", err
		}
	}
	return st, resolved, nil
}

// mountAt is the bind or volume the container path p lies in, if any.
func mountAt(mps []*mountPoint, p string) *mountPoint {
	var best *mountPoint
	for _, mp := range mps {
		d := path.Clean(mp.Destination)
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			if best == nil || len(d) > len(path.Clean(best.Destination)) {
				best = mp
			}
		}
	}
	return best
}

// archiveError gives errors of the archive API dockerd's words and classes.
func archiveError(ref, p string, err error) error {
	switch {
	case classified(err):
		return err
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return errdefs.NotFoundf("Could not find the file %s in container %s", p, ref)
	case errors.Is(err, syscall.EROFS):
		return errdefs.InvalidParameterf("%v: the destination is on a read-only file system", err)
	}
	return err
}

func classified(err error) bool {
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrInvalidArgument, errdefs.ErrForbidden, errdefs.ErrUnavailable} {
		if errors.Is(err, class) {
			return true
		}
	}
	return false
}
