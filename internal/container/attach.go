package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim"
)

// AttachOptions are docker attach's parameters.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
	Stream                bool // attach to live streams (otherwise logs only)
	Logs                  bool // replay the log first
	DetachKeys            string
}

// AttachConn is the client's hijacked connection.
type AttachConn interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// attachWaiter is an attach made before start: start hands it the shim
// and waits until it has connected, so no output is lost.
type attachWaiter struct {
	client   chan *shim.Client
	attached chan struct{}
}

// Attachment is an attach request that PrepareAttach has validated and
// registered: an attach to a container that is not running yet is on its
// start's list before the client hears that the attach succeeded, so that
// output written right after start (docker run --rm of a fast command)
// cannot be missed by an attach that registered late.
type Attachment struct {
	c      *Container
	opts   AttachOptions
	keys   []byte
	client *shim.Client  // the running container's shim
	waiter *attachWaiter // or the hand-off at the next start
	// TTY says whether the container has a terminal (raw stream).
	TTY bool
	// stdin is whether the client's input goes to the process; closeStdin
	// whether its end closes the process's stdin (StdinOnce).
	stdin, closeStdin bool
}

// PrepareAttach validates an attach request and registers it, before the
// connection is hijacked, so errors still get an HTTP status. The caller
// must pass the result to Attach or Cancel it.
func (s *Service) PrepareAttach(ref string, opts AttachOptions) (*Attachment, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return nil, err
	}
	keys, err := ParseDetachKeys(opts.DetachKeys)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// As in dockerd, the detach keys are looked for only on a terminal's
	// input: without one, stdin is data and goes through whole.
	if !c.Config.Tty {
		keys = nil
	}
	if c.State.Status == "paused" && opts.Stream {
		return nil, errdefs.Conflictf("You cannot attach to a paused container, unpause it first")
	}
	// Everything Attach needs of the container is read now: a start that
	// hands this attach its shim holds c.mu until the attach has connected.
	a := &Attachment{c: c, opts: opts, keys: keys, TTY: c.Config.Tty,
		stdin: opts.Stdin && c.Config.OpenStdin, closeStdin: c.Config.StdinOnce}
	if opts.Stream {
		if c.State.Running() {
			a.client = s.shimFor(c)
		} else {
			a.waiter = &attachWaiter{client: make(chan *shim.Client, 1), attached: make(chan struct{})}
			c.attachWaiters = append(c.attachWaiters, a.waiter)
		}
	}
	return a, nil
}

// Cancel gives up an attachment that will not be used.
func (s *Service) Cancel(a *Attachment) {
	if a.waiter != nil {
		s.dropWaiter(a.c, a.waiter)
		select {
		case cl := <-a.waiter.client:
			// Handed over meanwhile: let the start go on.
			close(a.waiter.attached)
			cl.Close()
		default:
		}
	}
	if a.client != nil {
		a.client.Close()
	}
}

// Attach streams the container's stdio over conn until the process ends,
// the client detaches, or ctx ends. Output is framed (stdcopy) unless the
// container has a TTY, exactly as the shim delivers it.
func (s *Service) Attach(ctx context.Context, a *Attachment, conn AttachConn, frame func(stream byte, p []byte) []byte) error {
	c, opts := a.c, a.opts
	if opts.Logs && (opts.Stdout || opts.Stderr) {
		// Not through Logs, which takes c.mu (see PrepareAttach).
		lopts := LogsOptions{Stdout: opts.Stdout, Stderr: opts.Stderr, Tail: -1}
		_ = s.followLog(ctx, c, s.logPath(c.ID), lopts, func(m LogMessage) error {
			stream := byte(shim.Stdout)
			if m.Stream == "stderr" {
				stream = shim.Stderr
			}
			_, err := conn.Write(frame(stream, m.Line))
			return err
		})
	}
	if !opts.Stream {
		return nil
	}

	client, waiter := a.client, a.waiter
	if waiter != nil {
		select {
		case client = <-waiter.client:
		case <-ctx.Done():
			s.Cancel(a)
			return nil
		}
	}
	defer client.Close()
	stream, err := client.Init().Attach(ctx, shim.AttachOptions{
		Stdin: a.stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		CloseStdin: a.closeStdin,
	})
	if waiter != nil {
		close(waiter.attached)
	}
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	s.event(c, "attach", nil)
	return pump(ctx, conn, stream, a.stdin, a.keys)
}

func (s *Service) dropWaiter(c *Container, w *attachWaiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.attachWaiters {
		if x == w {
			c.attachWaiters = append(c.attachWaiters[:i], c.attachWaiters[i+1:]...)
			return
		}
	}
}

// handOffAttachers gives waiting attachers the new shim and waits (briefly)
// until each has connected; the caller holds c.mu and has not started init.
func (s *Service) handOffAttachersLocked(c *Container, client *shim.Client) {
	waiters := c.attachWaiters
	c.attachWaiters = nil
	for _, w := range waiters {
		w.client <- shim.NewClient(client.Socket())
	}
	for _, w := range waiters {
		select {
		case <-w.attached:
		case <-time.After(5 * time.Second):
		}
	}
}

// pump copies the process's output to the client and the client's input to
// the process. It returns when the output ends (the process exited), the
// client detaches or goes away.
func pump(ctx context.Context, conn AttachConn, stream *shim.Stream, stdin bool, keys []byte) error {
	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, stream)
		outDone <- err
	}()
	inDone := make(chan error, 1)
	if stdin {
		go func() {
			var in io.Reader = conn
			if len(keys) > 0 {
				in = newDetachReader(conn, keys)
			}
			_, err := io.Copy(stream, in)
			if errors.Is(err, ErrDetached) {
				inDone <- err
				return
			}
			// The client closed its input: pass the EOF on.
			_ = stream.CloseWrite()
			inDone <- nil
		}()
	}
	var once sync.Once
	finish := func() {
		once.Do(func() {
			stream.Close()
		})
	}
	defer finish()
	for {
		select {
		case err := <-outDone:
			if isClosedConn(err) {
				err = nil
			}
			return err
		case err := <-inDone:
			if errors.Is(err, ErrDetached) {
				return nil
			}
			inDone = nil
		case <-ctx.Done():
			return nil
		}
	}
}

func isClosedConn(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
