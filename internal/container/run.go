package container

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/runtime/shim"
)

// RunOptions describe a container run to completion whose changes become
// an image: a build's RUN step.
type RunOptions struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	// Output receives stdout and stderr as the process writes them.
	Output io.Writer
	// OnStart is called with the container's ID before it starts.
	OnStart func(id string)
	// Commit is how a successful run is committed.
	Commit CommitOptions
}

// RunAndCommit creates a container, runs it to completion streaming its
// output, commits its changes when it exits 0, and removes it (with its
// anonymous volumes) whatever happens. It returns the exit code and, after
// a commit, the new image's ID.
func (s *Service) RunAndCommit(ctx context.Context, opts RunOptions) (exitCode int, imageID string, err error) {
	id, _, err := s.Create(ctx, CreateOptions{Config: opts.Config, HostConfig: opts.HostConfig})
	if err != nil {
		return 0, "", err
	}
	defer func() {
		if rerr := s.Remove(context.WithoutCancel(ctx), id, RemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil {
			s.log.Warn("remove build container", "container", id, "err", rerr)
		}
	}()
	if opts.OnStart != nil {
		opts.OnStart(id)
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	output, err := s.attachOutput(actx, id, opts.Output)
	if err != nil {
		return 0, "", err
	}
	wait, err := s.PrepareWait(id, container.WaitConditionNextExit)
	if err != nil {
		return 0, "", err
	}
	if err := s.Start(ctx, id); err != nil {
		return 0, "", err
	}
	res, err := wait(ctx)
	if err != nil {
		return 0, "", err
	}
	// The output ends when the process has exited and all of it arrived.
	select {
	case <-output:
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
	if res.ExitCode != 0 {
		return res.ExitCode, "", nil
	}
	imageID, err = s.Commit(ctx, id, opts.Commit)
	return 0, imageID, err
}

// attachOutput registers, before start, a reader of the container's
// output that copies it to w (unframed); the returned channel closes when
// the output has ended.
func (s *Service) attachOutput(ctx context.Context, id string, w io.Writer) (<-chan struct{}, error) {
	c, err := s.store.get(id)
	if err != nil {
		return nil, err
	}
	if w == nil {
		w = io.Discard
	}
	waiter := &attachWaiter{client: make(chan *shim.Client, 1), attached: make(chan struct{})}
	c.mu.Lock()
	tty := c.Config.Tty
	c.attachWaiters = append(c.attachWaiters, waiter)
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var client *shim.Client
		select {
		case client = <-waiter.client:
		case <-ctx.Done():
			s.dropWaiter(c, waiter)
			return
		}
		defer client.Close()
		stream, err := client.Init().Attach(ctx, shim.AttachOptions{Stdout: true, Stderr: true})
		close(waiter.attached)
		if err != nil {
			return
		}
		defer stream.Close()
		if tty {
			_, _ = io.Copy(w, stream)
			return
		}
		_ = demux(w, stream)
	}()
	return done, nil
}

// demux copies the payload of stdcopy frames from r to w.
func demux(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 32<<10)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.CopyN(w, br, n); err != nil {
			return err
		}
	}
}
